"""What the acceptance app does around a masterplan's run: classify the unclear
requirements after import, and after each wave generate (once) and run the tests, then
let the gate decide whether the plan goes on and how it ends."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from acceptance.classifier import classify_with_llm
from acceptance.gate import GateStatus, gate_status, wave_gate_status
from acceptance.generator import generate_tests
from acceptance.jobs import JOB_TIMEOUT_SECONDS, enqueue
from acceptance.models import Requirement, TestRun
from acceptance.runs import active_run, execute_run, queue_run, run_summary
from execution import engine
from execution.models import Atom, MasterPlan, Wave
from mge_site.redis_connection import get_redis

logger = logging.getLogger(__name__)


def classify_unclear(masterplan_id: object) -> int:
    """Ask the LLM about the requirements the keywords could not place (one request)."""
    requirements = list(
        Requirement.objects.filter(
            masterplan_id=masterplan_id, classified_by=Requirement.ClassifiedBy.DEFAULT
        ).order_by("position")
    )
    if not requirements:
        return 0
    answers = classify_with_llm([r.text for r in requirements], str(masterplan_id))
    for requirement, classification in zip(requirements, answers, strict=True):
        requirement.priority = classification.priority
        requirement.classified_by = classification.classified_by
        requirement.flag = classification.flag
    Requirement.objects.bulk_update(requirements, ["priority", "classified_by", "flag"])
    return len(requirements)


def after_wave(wave_id: object) -> dict[str, Any]:
    """The post-wave hook (queue `tests`): tests generated once code exists, run in one
    batch; with `enforce_gate_per_wave` the gate decides whether the next wave starts,
    and after the last wave it decides how the plan ends."""
    wave = Wave.objects.select_related("masterplan").get(pk=wave_id)
    masterplan = wave.masterplan
    try:
        generate_once(masterplan.pk, replace=False)
        return decide_after_run(execute_run(queue_run(masterplan, wave).pk))
    finally:
        after_wave_ended(masterplan.pk)


def generate_once(masterplan_id: object, *, replace: bool) -> dict[str, Any]:
    """Generate the tests under a per-plan lock: the jobs of two waves (or a Generate click
    and a wave) may run at once on two workers; one writes the tests and pays for them.
    `replace=False` writes only the missing ones (all the first time, the rest after a job
    that stopped halfway); replacing waits for no run to be active (a run stores its
    results against the tests it ran)."""
    with get_redis().lock(f"mge:acceptance:generate:{masterplan_id}", timeout=JOB_TIMEOUT_SECONDS):
        masterplan = MasterPlan.objects.get(pk=masterplan_id)
        if replace:
            busy = active_run(masterplan)
            if busy:
                return {"generated": 0, "refused": f"a test run is {busy.status}: {busy.pk}"}
        return generate_tests(masterplan_id, only_missing=not replace)


def decide_after_run(run: TestRun) -> dict[str, Any]:
    """Let the gate decide on a finished run (after a wave, or one started by hand, which
    is how a plan held by a refused or crashed run goes on once the cause is fixed)."""
    summary = run_summary(run)
    if run.status != TestRun.Status.FINISHED:
        # No results, so no verdict: the plan stays where it is, saying why.
        MasterPlan.objects.filter(pk=run.masterplan_id, status=MasterPlan.Status.RUNNING).update(
            status_reason=f"The acceptance run {run.status}: {run.message} Fix the cause and "
            "press Run tests on the acceptance page: its gate decides then.",
            updated_at=timezone.now(),
        )
        return {**summary, "decision": f"none: the run {run.status}"}
    decision, gate = _decide(run)
    return {**summary, "gate_passed": gate.gate_passed, "gate_reason": gate.reason,
            "decision": decision}  # fmt: skip


def _decide(run: TestRun) -> tuple[str, GateStatus]:
    """After the last wave the gate over every requirement decides, on a run that saw every
    atom's code; after an earlier wave (with `enforce_gate_per_wave`) only requirements
    whose code the run had count."""
    masterplan_id = run.masterplan_id
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        atoms = list(masterplan.atoms.values_list("file_path", "status"))
        every_atom_done = all(status in Atom.TERMINAL_STATUSES for _, status in atoms) and (
            engine.open_wave(masterplan) is None
        )
        last = every_atom_done and run.code_complete
        if last:
            gate = gate_status(masterplan_id)
        else:
            planned = {path for path, _ in atoms}
            gate = wave_gate_status(masterplan_id, set(run.written_files), planned)
        if masterplan.status != MasterPlan.Status.RUNNING:
            return f"none: the plan is {masterplan.status}", gate
        if every_atom_done and not last:
            return "none: a run that saw every atom's code decides", gate
        enforce = bool(masterplan.options.get("enforce_gate_per_wave"))
        if not gate.gate_passed and (last or enforce):
            masterplan.status = MasterPlan.Status.GATE_FAILED
            masterplan.status_reason = f"acceptance gate failed: {gate.reason}"
            masterplan.finished_at = timezone.now()
            masterplan.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
            return "gate_failed", gate
    if last or enforce:
        # The engine held the plan for this decision: let it go on (or end) as usual.
        engine.advance_masterplan(masterplan_id, gate_decided=True)
        return "advanced", gate
    return "none: the gate decides at the end", gate


def _pending_key(masterplan_id: object) -> str:
    return f"mge:acceptance:after-wave:{masterplan_id}"


def queue_after_wave(wave: Wave) -> None:
    """Queue the post-wave job, marked as pending for its plan until it ends."""
    get_redis().set(_pending_key(wave.masterplan_id), str(wave.pk), ex=JOB_TIMEOUT_SECONDS)
    enqueue("acceptance.tasks.after_wave", str(wave.pk))


def after_wave_ended(masterplan_id: object) -> None:
    get_redis().delete(_pending_key(masterplan_id))


def requeue_held_plans(quiet_seconds: int = 120) -> list[str]:
    """Periodic: a plan the engine holds for the gate whose post-wave job was lost (a
    worker killed, the queue unreachable when the wave closed) gets it queued again.

    Held: running, no atom running, and either every atom finished or — with
    `enforce_gate_per_wave` — the open wave not started; its last wave closed a while ago,
    no post-wave job pending, and no run since that ended (a refused or crashed run waits
    for a person: its cause is in the plan's status line)."""
    requeued = []
    since = timezone.now() - timedelta(seconds=quiet_seconds)
    for masterplan in MasterPlan.objects.filter(status=MasterPlan.Status.RUNNING):
        atoms = masterplan.atoms
        if atoms.filter(status=Atom.Status.RUNNING).exists():
            continue
        every_atom_done = not atoms.exclude(status__in=Atom.TERMINAL_STATUSES).exists()
        if not (every_atom_done or masterplan.options.get("enforce_gate_per_wave")):
            continue
        last_wave = (
            masterplan.waves.filter(finished_at__isnull=False).order_by("-finished_at").first()
        )
        if last_wave is None or last_wave.finished_at > since:
            continue
        if get_redis().exists(_pending_key(masterplan.pk)) or active_run(masterplan):
            continue
        ended_since = masterplan.test_runs.filter(
            started_at__gte=last_wave.finished_at,
            status__in=[TestRun.Status.FINISHED, TestRun.Status.REFUSED, TestRun.Status.ERROR],
        )
        if ended_since.exists():
            continue
        logger.warning("re-queueing the acceptance tests of held plan %s", masterplan.pk)
        queue_after_wave(last_wave)
        requeued.append(str(masterplan.pk))
    return requeued
