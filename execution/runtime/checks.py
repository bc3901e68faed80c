"""Checks that decide after a masterplan's waves, registered by the apps that own them
(the acceptance gate, the precision score).

Each enabled check runs as a job after every wave closes, and its verdict is kept per
wave (`WaveCheck`). What a verdict means for the plan — go on, hold, end `gate_failed`
— is the lifecycle's business (execution.runtime.lifecycle); this module keeps the registry and
the rows, and knows no app's settings: a check says itself whether it is enabled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from rq import get_current_job

from execution.models import MasterPlan, Wave, WaveCheck
from execution.runtime.jobs import enqueue, job_is_alive

logger = logging.getLogger(__name__)

CHECK_JOB = "execution.tasks.run_check"


@dataclass(frozen=True)
class Verdict:
    passed: bool | None
    """None: the check could not decide (its run was refused, say); the plan waits."""
    reason: str = ""
    """For the plan's status line: why it failed, or why there is no verdict."""


def _always() -> bool:
    return True


def _never(masterplan: MasterPlan) -> bool:
    return False


@dataclass(frozen=True)
class Check:
    name: str
    decide: Callable[[Wave], Verdict]
    """Runs in the check's job once the wave closed; raising is "undecided", with the cause."""
    enabled: Callable[[], bool] = _always
    gates_each_wave: Callable[[MasterPlan], bool] = _never
    """Whether the next wave waits for this check's verdict (else only the end does)."""
    queue: str = "default"
    timeout_seconds: int = 3600
    waiting: str = ""
    """While it runs, for the status line: "the acceptance tests run now and their gate
    decides" (… the release / … whether wave N starts)."""
    after: tuple[str, ...] = ()
    """Checks whose verdict on the same wave this one reads (precision reads the acceptance
    results): its job is queued once they have decided (or when they are not enabled)."""


_registry: dict[str, Check] = {}


def register(check: Check) -> None:
    """Called from an app's `ready()`; registering a name again replaces the check."""
    _registry[check.name] = check


def registered(name: str) -> Check | None:
    return _registry.get(name)


def waiting_reason(name: str) -> str:
    check = _registry.get(name)
    return (check.waiting if check else "") or f"the {name} check decides"


def enabled_checks() -> list[Check]:
    return [check for check in _registry.values() if check.enabled()]


def gates_each_wave(masterplan: MasterPlan) -> bool:
    return any(check.gates_each_wave(masterplan) for check in enabled_checks())


def ask(wave: Wave, *, gating_only: bool = False, again: bool = False) -> list[WaveCheck]:
    """The rows of the enabled checks for this wave, each asked if it has not been: a new
    row queued, a pending row whose job was lost queued again, and (`again`: a resume)
    an undecided one too. Jobs are queued once the transaction commits."""
    checks = enabled_checks()
    if gating_only:
        checks = [check for check in checks if check.gates_each_wave(wave.masterplan)]
    checks.sort(key=lambda check: bool(check.after))  # the checks others wait for first
    existing = {row.check_name: row for row in wave.checks.select_for_update()}
    rows = []
    for check in checks:
        row = existing.get(check.name)
        if row is None:
            row = WaveCheck(masterplan_id=wave.masterplan_id, wave=wave, check_name=check.name)
            existing[check.name] = row
            _queue_or_hold(row, check, existing)
        elif (row.state == WaveCheck.State.PENDING and not job_is_alive(row.job_id)) or (
            again and row.state == WaveCheck.State.UNDECIDED
        ):
            _queue_or_hold(row, check, existing)
        rows.append(row)
    return rows


def _waits_for(check: Check, rows: dict[str, WaveCheck]) -> bool:
    enabled = {other.name for other in enabled_checks()}
    return any(
        name in enabled and name in rows and rows[name].state == WaveCheck.State.PENDING
        for name in check.after
    )


def _queue_or_hold(row: WaveCheck, check: Check, rows: dict[str, WaveCheck]) -> None:
    if not _waits_for(check, rows):
        _queue(row, check)
        return
    # Pending without a job: `record` queues it when the last check it reads decides.
    row.state, row.reason, row.decided_at = WaveCheck.State.PENDING, "", None
    row.job_id, row.queued_at = "", timezone.now()
    row.save()


def _release_waiting(wave_id: uuid.UUID) -> None:
    with transaction.atomic():
        rows = {row.check_name: row for row in
                WaveCheck.objects.select_for_update().filter(wave_id=wave_id)}  # fmt: skip
        for row in rows.values():
            check = _registry.get(row.check_name)
            held = row.state == WaveCheck.State.PENDING and not row.job_id
            if check is not None and check.after and held and not _waits_for(check, rows):
                _queue(row, check)


def _queue(row: WaveCheck, check: Check) -> None:
    row.state, row.reason, row.decided_at = WaveCheck.State.PENDING, "", None
    row.job_id, row.queued_at = str(uuid.uuid4()), timezone.now()
    row.save()
    job_id, row_id = row.job_id, str(row.pk)

    def queue_job() -> None:
        enqueue(CHECK_JOB, row_id, queue=check.queue, timeout_seconds=check.timeout_seconds,
                job_id=job_id)  # fmt: skip

    # robust: with the queue unreachable the row stays pending, and lost_checks finds it.
    transaction.on_commit(queue_job, robust=True)


def evaluate(wave_check_id: uuid.UUID | str) -> WaveCheck | None:
    """Run a check (its job) and record the verdict; None when there is nothing to decide
    now: the plan is not running (the row stays pending, and resume asks again), the row
    was decided meanwhile, or it was queued again since this job was (two asks a moment
    apart): the newer job decides."""
    row = WaveCheck.objects.select_related("wave__masterplan").get(pk=wave_check_id)
    if row.state != WaveCheck.State.PENDING:
        return None
    job = get_current_job()
    if job is not None and row.job_id and job.id != row.job_id:
        return None
    if row.wave.masterplan.status != MasterPlan.Status.RUNNING:
        return None
    check = _registry.get(row.check_name)
    if check is None:
        verdict = Verdict(None, f"no check named {row.check_name!r} is registered")
    else:
        try:
            verdict = check.decide(row.wave)
        except Exception as error:
            # The plan waits with the cause in its status line; resume asks again.
            logger.exception("check %s of wave %s raised", row.check_name, row.wave_id)
            verdict = Verdict(
                None,
                f"The {row.check_name} check stopped with {type(error).__name__}: {error}. "
                "Resume the plan to ask it again.",
            )
    return record(row, verdict)


def record(row: WaveCheck, verdict: Verdict) -> WaveCheck:
    if verdict.passed is None:
        state = WaveCheck.State.UNDECIDED
    else:
        state = WaveCheck.State.PASSED if verdict.passed else WaveCheck.State.FAILED
    row.state, row.reason, row.decided_at = state, verdict.reason, timezone.now()
    row.save(update_fields=["state", "reason", "decided_at"])
    _release_waiting(row.wave_id)
    return row


def open_row_seen_by(
    masterplan_id: uuid.UUID | str, check_name: str, started_at: datetime
) -> WaveCheck | None:
    """The newest row of a check for this plan still without a verdict whose wave closed
    before `started_at`: a run started by hand then saw that wave's code, and may give
    the row its verdict. A pending row whose job is alive is left to that job."""
    rows = (
        WaveCheck.objects.filter(
            masterplan_id=masterplan_id,
            check_name=check_name,
            state__in=[WaveCheck.State.PENDING, WaveCheck.State.UNDECIDED],
            wave__finished_at__lte=started_at,
        )
        .select_related("wave")
        .order_by("-wave__number")
    )
    for row in rows:
        if row.state == WaveCheck.State.PENDING and job_is_alive(row.job_id):
            return None
        return row
    return None


def lost_checks(quiet_seconds: int) -> Sequence[WaveCheck]:
    """Pending rows of running plans, queued a while ago, whose job is gone (a worker
    killed mid-job, the queue unreachable when the wave closed)."""
    since = timezone.now() - timedelta(seconds=quiet_seconds)
    pending = WaveCheck.objects.filter(
        state=WaveCheck.State.PENDING,
        queued_at__lt=since,
        masterplan__status=MasterPlan.Status.RUNNING,
    ).select_related("wave__masterplan")
    return [row for row in pending if not job_is_alive(row.job_id)]
