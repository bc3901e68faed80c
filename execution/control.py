"""Start, pause, resume and cancel a masterplan; each one transaction, then the queue."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from execution.concurrency import ConcurrencyLimiter
from execution.engine import advance_masterplan, gate_decides, open_wave, release_stale_atoms
from execution.models import Atom, MasterPlan, Wave
from execution.signals import wave_finished
from mge_site.redis_connection import get_redis

WAVE_JOB = "execution.tasks.run_wave"
WAVE_JOB_TIMEOUT_SECONDS = 6 * 3600


class TransitionRefused(Exception):
    """The masterplan's status does not allow this action (HTTP 409)."""

    def __init__(self, masterplan: MasterPlan, action: str, allowed: tuple[str, ...]) -> None:
        self.status = masterplan.status
        super().__init__(
            f"cannot {action} masterplan {masterplan.name!r}: it is {masterplan.status} "
            f"({action} needs {' or '.join(allowed)})"
        )


class QueueUnavailable(Exception):
    """Redis does not answer, so no job can be queued (HTTP 503)."""


class Backpressure(Exception):
    """Too many LLM calls already wait for a slot: start later (HTTP 429)."""

    retry_after_seconds = 30


S = MasterPlan.Status
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "start": (S.READY,),
    "pause": (S.RUNNING,),
    # Resuming a running plan re-queues its wave: how a plan whose worker died goes on.
    "resume": (S.PAUSED, S.RUNNING),
    "cancel": (S.READY, S.RUNNING, S.PAUSED, S.PAUSED_BUDGET),
    # Only a budget approver's override lifts a budget pause (budget.overrides).
    "resume_after_override": (S.PAUSED_BUDGET,),
}


def available_actions(status: str) -> list[str]:
    """The buttons a page offers for a plan in this status."""
    return [
        action
        for action, allowed in ALLOWED_FROM.items()
        if status in allowed
        and action != "resume_after_override"
        and not (action == "resume" and status == S.RUNNING)
    ]


@dataclass(frozen=True)
class ControlResult:
    status: str
    job_ids: list[str]


def refuse_when_saturated() -> None:
    """New work waits outside while the calls already admitted queue for slots."""
    depth = ConcurrencyLimiter().queue_depth()
    if depth >= settings.MGE_CONCURRENCY_QUEUE_MAX:
        raise Backpressure(
            f"{depth} LLM calls are waiting for a slot (at most "
            f"{settings.MGE_CONCURRENCY_QUEUE_MAX}); try again in "
            f"{Backpressure.retry_after_seconds} s"
        )


def require_queue() -> None:
    client = get_redis(timeout_seconds=2)
    try:
        client.ping()
    except RedisError as error:
        raise QueueUnavailable(f"the job queue (Redis) is not reachable: {error}") from None
    finally:
        client.close()


def enqueue_wave(wave: Wave) -> list[str]:
    """Queue a wave's jobs: one per MGE_WAVE_SHARD_SIZE runnable atoms."""
    runnable = wave.atoms.filter(status__in=Atom.RUNNABLE_STATUSES).count()
    shards = max(1, math.ceil(runnable / settings.MGE_WAVE_SHARD_SIZE))
    queue = django_rq.get_queue("waves")
    # Our own ids: inside a transaction django-rq defers the enqueue and returns no job.
    job_ids = [str(uuid.uuid4()) for _ in range(shards)]
    for shard, job_id in enumerate(job_ids):
        queue.enqueue(
            WAVE_JOB,
            str(wave.pk),
            shard,
            shards,
            job_id=job_id,
            job_timeout=WAVE_JOB_TIMEOUT_SECONDS,
            description=f"{wave.masterplan.name}: wave {wave.number} ({shard + 1}/{shards})",
        )
    return job_ids


def _change_status(
    masterplan_id: object, action: str, allowed: tuple[str, ...], new_status: str
) -> tuple[MasterPlan, Wave | None]:
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        if masterplan.status not in allowed:
            raise TransitionRefused(masterplan, action, allowed)
        masterplan.status = new_status
        masterplan.status_reason = ""
        if new_status == MasterPlan.Status.RUNNING and masterplan.started_at is None:
            masterplan.started_at = timezone.now()
        masterplan.save(update_fields=["status", "status_reason", "started_at", "updated_at"])
        wave = open_wave(masterplan) if new_status == MasterPlan.Status.RUNNING else None
    return masterplan, wave


def _run(masterplan: MasterPlan, wave: Wave | None, previous_status: str) -> ControlResult:
    if wave is None:
        # Nothing left to run: let the engine close the plan with the right status.
        advance_masterplan(masterplan.pk)
        masterplan.refresh_from_db()
        if masterplan.status == MasterPlan.Status.RUNNING:  # held for the release gate
            _ask_the_gate_again(masterplan)
        return ControlResult(masterplan.status, [])
    if (
        gate_decides(masterplan)
        and masterplan.options.get("enforce_gate_per_wave")
        and not wave.atoms.exclude(status__in=Atom.RUNNABLE_STATUSES).exists()
        and _ask_the_gate_again(masterplan)
    ):
        # The gate decides whether this wave starts (its decision may have been lost to
        # the pause): starting it here would pass the gate by.
        return ControlResult(masterplan.status, [])
    try:
        job_ids = enqueue_wave(wave)
    except RedisError as error:
        MasterPlan.objects.filter(pk=masterplan.pk).update(status=previous_status)
        raise QueueUnavailable(f"the job queue (Redis) is not reachable: {error}") from None
    return ControlResult(masterplan.status, job_ids)


def _ask_the_gate_again(masterplan: MasterPlan) -> bool:
    """Send `wave_finished` for the last closed wave again, so the post-wave tests run
    and the gate decides; False when no wave has closed yet."""
    last_closed = (
        masterplan.waves.filter(status__in=[Wave.Status.COMPLETED, Wave.Status.FAILED])
        .order_by("-number")
        .first()
    )
    if last_closed is None:
        return False
    wave_finished.send(sender=Wave, wave=last_closed)
    return True


def start_masterplan(masterplan_id: object) -> ControlResult:
    require_queue()
    refuse_when_saturated()
    masterplan, wave = _change_status(
        masterplan_id, "start", ALLOWED_FROM["start"], MasterPlan.Status.RUNNING
    )
    return _run(masterplan, wave, MasterPlan.Status.READY)


def resume_masterplan(masterplan_id: object) -> ControlResult:
    """Continue a paused plan, or one whose worker died: lapsed atoms run again."""
    require_queue()
    refuse_when_saturated()
    previous = MasterPlan.objects.values_list("status", flat=True).get(pk=masterplan_id)
    release_stale_atoms(masterplan_id)
    masterplan, wave = _change_status(
        masterplan_id, "resume", ALLOWED_FROM["resume"], MasterPlan.Status.RUNNING
    )
    return _run(masterplan, wave, previous)


def resume_after_override(masterplan_id: object) -> ControlResult:
    """Continue a plan paused at its hard cap, once the cap was raised."""
    require_queue()
    masterplan, wave = _change_status(
        masterplan_id,
        "resume",
        ALLOWED_FROM["resume_after_override"],
        MasterPlan.Status.RUNNING,
    )
    MasterPlan.objects.filter(pk=masterplan.pk).update(cost_paused_at=None)
    return _run(masterplan, wave, MasterPlan.Status.PAUSED_BUDGET)


def pause_masterplan(masterplan_id: object) -> ControlResult:
    """Stop admitting atoms; the ones in flight finish."""
    masterplan, _ = _change_status(
        masterplan_id, "pause", ALLOWED_FROM["pause"], MasterPlan.Status.PAUSED
    )
    return ControlResult(masterplan.status, [])


def cancel_masterplan(masterplan_id: object) -> ControlResult:
    """End the plan for good: atoms not started are skipped, the ones in flight finish."""
    with transaction.atomic():
        masterplan, _ = _change_status(
            masterplan_id, "cancel", ALLOWED_FROM["cancel"], MasterPlan.Status.CANCELLED
        )
        masterplan.atoms.filter(status__in=Atom.RUNNABLE_STATUSES).update(
            status=Atom.Status.SKIPPED, last_error="skipped: the masterplan was cancelled"
        )
        MasterPlan.objects.filter(pk=masterplan.pk).update(finished_at=timezone.now())
    return ControlResult(masterplan.status, [])


ACTIONS = {
    "start": start_masterplan,
    "pause": pause_masterplan,
    "resume": resume_masterplan,
    "cancel": cancel_masterplan,
}
