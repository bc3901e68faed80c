"""A masterplan's lifecycle: the only writer of its status.

Every change of status is a verb here (`start`, `pause`, `pause_for_budget`,
`pause_for_provider`, `resume`, `resume_after_override`, `resume_after_probe`,
`hold_for_checks`, `fail_gate`, `complete`, `fail`, `cancel`): it checks `TRANSITIONS`,
runs in one transaction under the plan's row lock, records why in the status line users
see, and queues what comes next once it has committed. The budget and the acceptance app
call these verbs; nobody else assigns `status`.

Between waves the plan moves on by itself (`advance`): the next wave with work is
queued, unless a registered check that gates each wave (execution.runtime.checks) has not
passed the wave before; after the last wave the plan ends `failed` (atoms failed),
`gate_failed` (a check failed) or `completed` once every enabled check has passed, and
is held, still running, until they have decided.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from execution.models import Atom, MasterPlan, Wave, WaveCheck
from execution.runtime import checks
from execution.runtime.jobs import (
    QueueUnavailable,
    enqueue_wave,
    refuse_when_saturated,
    require_queue,
)
from execution.runtime.waves import (
    close_wave_if_done,
    last_closed_wave,
    open_wave,
    release_stale_atoms,
)
from execution.signals import masterplan_finished, send_on_commit

PlanId = uuid.UUID | str
S = MasterPlan.Status

TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # verb: (the statuses it may start from, the status it leads to)
    "start": ((S.READY,), S.RUNNING),
    "pause": ((S.RUNNING,), S.PAUSED),
    # Resuming a running plan re-queues its wave: how a plan whose worker died goes on.
    # A plan paused for its provider is resumed by the probe, or by hand.
    "resume": ((S.PAUSED, S.PAUSED_PROVIDER, S.RUNNING), S.RUNNING),
    # Only a budget approver's override lifts a budget pause (budget.overrides).
    "resume_after_override": ((S.PAUSED_BUDGET,), S.RUNNING),
    "cancel": ((S.READY, S.RUNNING, S.PAUSED, S.PAUSED_BUDGET, S.PAUSED_PROVIDER), S.CANCELLED),
    "pause_for_budget": ((S.RUNNING,), S.PAUSED_BUDGET),
    "pause_for_provider": ((S.RUNNING,), S.PAUSED_PROVIDER),
    "resume_after_probe": ((S.PAUSED_PROVIDER,), S.RUNNING),
    # Every atom done (or a gating check's wave), the checks still to decide.
    "hold_for_checks": ((S.RUNNING,), S.RUNNING),
    "fail_gate": ((S.RUNNING,), S.GATE_FAILED),
    "complete": ((S.RUNNING,), S.COMPLETED),
    "fail": ((S.RUNNING,), S.FAILED),
}
USER_ACTIONS = ("start", "pause", "resume", "cancel")
ENDED = (S.COMPLETED, S.GATE_FAILED, S.FAILED, S.CANCELLED)


def available_actions(status: str) -> list[str]:
    """The actions a user may take on a plan in this status (the page's buttons)."""
    return [
        action
        for action in USER_ACTIONS
        if status in TRANSITIONS[action][0] and not (action == "resume" and status == S.RUNNING)
    ]


class TransitionRefused(Exception):
    """The masterplan's status does not allow this action (HTTP 409)."""

    def __init__(self, masterplan: MasterPlan, verb: str) -> None:
        allowed = TRANSITIONS[verb][0]
        action = "resume" if verb == "resume_after_override" else verb.replace("_", " ")
        self.status = masterplan.status
        self.allowed_actions = available_actions(masterplan.status)
        super().__init__(
            f"cannot {action} masterplan {masterplan.name!r}: it is {masterplan.status} "
            f"({action} needs {' or '.join(allowed)})"
        )


@dataclass(frozen=True)
class ControlResult:
    status: str
    job_ids: list[str]


def _locked(masterplan_id: PlanId) -> MasterPlan:
    return MasterPlan.objects.select_for_update().get(pk=masterplan_id)


def _transition(masterplan: MasterPlan, verb: str, reason: str = "") -> None:
    """Apply a verb to a plan locked by the caller's transaction."""
    allowed, status = TRANSITIONS[verb]
    if masterplan.status not in allowed:
        raise TransitionRefused(masterplan, verb)
    masterplan.status, masterplan.status_reason = status, reason
    now = timezone.now()
    if status == S.RUNNING and masterplan.started_at is None:
        masterplan.started_at = now
    if status in ENDED:
        masterplan.finished_at = now
        send_on_commit(masterplan_finished, MasterPlan, masterplan_id=masterplan.pk, status=status)
    if verb == "pause_for_budget":
        masterplan.cost_paused_at = now
    elif verb == "resume_after_override":
        masterplan.cost_paused_at = None
    masterplan.save(
        update_fields=["status", "status_reason", "started_at", "finished_at",
                       "cost_paused_at", "updated_at"]
    )  # fmt: skip


# --- what users do (page, API, CLI) ------------------------------------------------------------


def start_masterplan(masterplan_id: PlanId) -> ControlResult:
    require_queue()
    refuse_when_saturated()
    with transaction.atomic():
        _transition(_locked(masterplan_id), "start")
    return _go_on(masterplan_id, S.READY)


def resume_masterplan(masterplan_id: PlanId) -> ControlResult:
    """Continue a paused plan, or one whose worker died: lapsed atoms run again, checks
    that could not decide are asked again."""
    return _resume(masterplan_id, "resume")


def _resume(masterplan_id: PlanId, verb: str) -> ControlResult:
    require_queue()
    refuse_when_saturated()
    release_stale_atoms(masterplan_id)
    with transaction.atomic():
        masterplan = _locked(masterplan_id)
        previous = masterplan.status
        _transition(masterplan, verb)
    return _go_on(masterplan_id, previous)


def resume_after_override(masterplan_id: PlanId) -> ControlResult:
    """Continue a plan paused at its hard cap, once the cap was raised."""
    require_queue()
    with transaction.atomic():
        _transition(_locked(masterplan_id), "resume_after_override")
    return _go_on(masterplan_id, S.PAUSED_BUDGET)


def pause_masterplan(masterplan_id: PlanId) -> ControlResult:
    """Stop admitting atoms; the ones in flight finish."""
    with transaction.atomic():
        masterplan = _locked(masterplan_id)
        _transition(masterplan, "pause")
    return ControlResult(masterplan.status, [])


def cancel_masterplan(masterplan_id: PlanId) -> ControlResult:
    """End the plan for good: atoms not started are skipped, the ones in flight finish."""
    with transaction.atomic():
        masterplan = _locked(masterplan_id)
        _transition(masterplan, "cancel")
        masterplan.atoms.filter(status__in=Atom.RUNNABLE_STATUSES).update(
            status=Atom.Status.SKIPPED, last_error="skipped: the masterplan was cancelled"
        )
    return ControlResult(masterplan.status, [])


ACTIONS = {
    "start": start_masterplan,
    "pause": pause_masterplan,
    "resume": resume_masterplan,
    "cancel": cancel_masterplan,
}


def _go_on(masterplan_id: PlanId, previous_status: str) -> ControlResult:
    """After a start or resume: queue the open wave, or end or hold the plan. The queue
    answered a moment ago; if it fails now, the plan goes back to where it was."""
    try:
        job_ids = advance(masterplan_id, ask_again=True)
    except RedisError as error:
        MasterPlan.objects.filter(pk=masterplan_id, status=S.RUNNING).update(status=previous_status)
        raise QueueUnavailable(f"the job queue (Redis) is not reachable: {error}") from None
    status = MasterPlan.objects.values_list("status", flat=True).get(pk=masterplan_id)
    return ControlResult(status, job_ids)


# --- what the system does ----------------------------------------------------------------------


def pause_for_budget(masterplan_id: PlanId, reason: str) -> MasterPlan | None:
    """Pause a running plan at its hard cap; None if it is no longer running (another
    call paused it first, or a person did). Joins the caller's transaction."""
    return _pause_if_running(masterplan_id, "pause_for_budget", reason)


def pause_for_provider(masterplan_id: PlanId, reason: str) -> MasterPlan | None:
    """Pause a running plan whose provider has not answered for longer than an atom's
    retry budget; None if it no longer runs (another atom paused it first)."""
    return _pause_if_running(masterplan_id, "pause_for_provider", reason)


def _pause_if_running(masterplan_id: PlanId, verb: str, reason: str) -> MasterPlan | None:
    with transaction.atomic():
        masterplan = _locked(masterplan_id)
        if masterplan.status != S.RUNNING:
            return None
        _transition(masterplan, verb, reason)
    return masterplan


def resume_after_probe(masterplan_id: PlanId) -> ControlResult | None:
    """The provider answers again: a plan paused for it goes on; None if it is no longer
    paused for it (resumed or cancelled by hand meanwhile)."""
    try:
        return _resume(masterplan_id, "resume_after_probe")
    except TransitionRefused:
        return None


def wave_done(wave_id: PlanId) -> None:
    """After a wave job: close the wave if none of its atoms can still run, ask the
    checks about it, and move the plan on."""
    with transaction.atomic():
        wave = close_wave_if_done(wave_id)
        if wave is None:
            return
        checks.ask(wave)
    advance(wave.masterplan_id)


def advance(masterplan_id: PlanId, *, ask_again: bool = False) -> list[str]:
    """Queue the next wave that has work, or end the plan when none is left; returns the
    jobs queued. `ask_again` (a start or resume): checks that could not decide run again."""
    with transaction.atomic():
        masterplan = _locked(masterplan_id)
        if masterplan.status != S.RUNNING:
            return []
        wave = open_wave(masterplan)
        if wave is None:
            _end(masterplan, ask_again)
            return []
        if _waits_for_gating_checks(masterplan, wave, ask_again):
            return []
        if not wave.atoms.filter(status__in=Atom.RUNNABLE_STATUSES).exists():
            return []  # its atoms are still running: the job running them advances the plan
    return enqueue_wave(wave)


def _waits_for_gating_checks(masterplan: MasterPlan, wave: Wave, ask_again: bool) -> bool:
    """A wave not started yet waits while a check that gates each wave has not passed
    the wave before it (its verdict may also have been lost to a pause: ask again)."""
    if not checks.gates_each_wave(masterplan):
        return False
    if wave.status != Wave.Status.PENDING:
        return False  # started: the gate let it (its atoms' statuses do not say: the
        # dependants of a failed atom are blocked before the wave starts)
    previous = last_closed_wave(masterplan)
    if previous is None:
        return False
    rows = checks.ask(previous, gating_only=True, again=ask_again)
    return _decide(masterplan, rows, f"Wave {wave.number} waits: {{waiting}} whether it starts.")


def _end(masterplan: MasterPlan, ask_again: bool) -> None:
    """No wave is left: failed atoms fail the plan; else the checks of the last wave
    decide, and the plan is held until they have."""
    atoms = masterplan.atoms.all()
    failed = list(atoms.filter(status=Atom.Status.FAILED).values_list("name", flat=True))
    blocked = atoms.filter(status=Atom.Status.BLOCKED).count()
    if failed or blocked:
        named = ", ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
        _transition(
            masterplan,
            "fail",
            f"{len(failed)} atom{'s' * (len(failed) != 1)} failed ({named}); "
            f"{blocked} blocked by them. Nothing runnable is left.",
        )
        return
    last = last_closed_wave(masterplan)
    rows = checks.ask(last, again=ask_again) if last else []
    if not _decide(masterplan, rows, "Every atom completed; {waiting} the release."):
        _transition(masterplan, "complete")


def _decide(masterplan: MasterPlan, rows: list[WaveCheck], holding: str) -> bool:
    """Act on the checks' rows: a failure ends the plan `gate_failed`, an undecided check
    or one still running holds it (`holding` says so, with the checks' `{waiting}`).
    Returns whether the plan stops here."""
    failed = [row for row in rows if row.state == WaveCheck.State.FAILED]
    if failed:
        _transition(masterplan, "fail_gate", failed[0].reason)
        return True
    undecided = [row for row in rows if row.state == WaveCheck.State.UNDECIDED]
    pending = [row for row in rows if row.state == WaveCheck.State.PENDING]
    if undecided:
        _transition(masterplan, "hold_for_checks", undecided[0].reason)
    elif pending:
        waiting = " and ".join(checks.waiting_reason(row.check_name) for row in pending)
        _transition(masterplan, "hold_for_checks", holding.format(waiting=waiting))
    return bool(undecided or pending)


def check_decided(row: WaveCheck) -> str:
    """A check recorded its verdict on a wave: what it means for the plan."""
    with transaction.atomic():
        masterplan = _locked(row.masterplan_id)
        if masterplan.status != S.RUNNING:
            return f"none: the plan is {masterplan.status}"
        last = last_closed_wave(masterplan)
        if last is None or last.pk != row.wave_id:
            return "none: the checks of a later wave decide"
        final = open_wave(masterplan) is None
        check = checks.registered(row.check_name)
        if not (final or (check is not None and check.gates_each_wave(masterplan))):
            return "none: the gate decides at the end"
        if row.state == WaveCheck.State.FAILED:
            _transition(masterplan, "fail_gate", row.reason)
            return "gate_failed"
        if row.state == WaveCheck.State.UNDECIDED:
            _transition(masterplan, "hold_for_checks", row.reason)
            return f"none: the {row.check_name} check could not decide"
    advance(masterplan.pk)
    return "advanced"


def requeue_lost_checks(quiet_seconds: int = 120) -> list[str]:
    """Periodic (the scheduler): a plan held for a check whose job was lost (a worker
    killed, the queue unreachable when the wave closed) gets it queued again. A check
    that ran and could not decide waits for a person: its cause is in the status line."""
    requeued = []
    for row in checks.lost_checks(quiet_seconds):
        with transaction.atomic():
            masterplan = _locked(row.masterplan_id)
            last = last_closed_wave(masterplan)
            if masterplan.status != S.RUNNING or last is None or last.pk != row.wave_id:
                continue
            checks.ask(last)
        requeued.append(str(row.masterplan_id))
    return sorted(set(requeued))


def advance_stalled_plans(quiet_seconds: int = 120) -> list[str]:
    """Periodic (the scheduler): a running plan whose last wave's checks have all decided a
    while ago, with no atom running and the next wave not started, is moved on. Its
    verdict was recorded, but moving on failed at that moment (the queue unreachable, the
    worker killed): without this it would wait for a resume."""
    since = timezone.now() - timedelta(seconds=quiet_seconds)
    moved = []
    for masterplan in MasterPlan.objects.filter(status=S.RUNNING):
        last = last_closed_wave(masterplan)
        if last is None or masterplan.atoms.filter(status=Atom.Status.RUNNING).exists():
            continue
        if masterplan.waves.filter(status=Wave.Status.RUNNING).exists():
            continue
        rows = list(last.checks.all())
        decided = [row for row in rows if row.state != WaveCheck.State.PENDING]
        if not rows or len(decided) < len(rows):
            continue
        if max(row.decided_at or since for row in decided) > since:
            continue
        advance(masterplan.pk)
        moved.append(str(masterplan.pk))
    return moved
