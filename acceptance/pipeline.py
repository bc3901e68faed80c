"""What the acceptance app does around a masterplan's run: classify the unclear
requirements after import, and after each wave generate (once) and run the tests, then
let the gate decide whether the plan goes on and how it ends."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from acceptance.classifier import classify_with_llm
from acceptance.gate import GateStatus, gate_status, wave_gate_status
from acceptance.generator import generate_tests
from acceptance.models import AcceptanceTest, Requirement
from acceptance.runs import execute_run, queue_run, run_summary
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
    # The jobs of two waves may run at once on two workers: one writes the tests (and pays
    # for them), the other waits for it and finds them.
    with get_redis().lock(f"mge:acceptance:generate:{masterplan.pk}", timeout=3600):
        if not AcceptanceTest.objects.filter(masterplan=masterplan).exists():
            generate_tests(masterplan.pk)
    run = execute_run(queue_run(masterplan, wave).pk)
    decision, gate = _decide(masterplan.pk)
    return {**run_summary(run), "gate_passed": gate.gate_passed, "gate_reason": gate.reason,
            "decision": decision}  # fmt: skip


def _decide(masterplan_id: object) -> tuple[str, GateStatus]:
    """At the end the gate over every requirement decides; after an earlier wave (with
    `enforce_gate_per_wave`) only the requirements whose code has been written count."""
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        atoms = list(masterplan.atoms.values_list("file_path", "status"))
        last = all(status in Atom.TERMINAL_STATUSES for _, status in atoms) and (
            engine.open_wave(masterplan) is None
        )
        if last:
            gate = gate_status(masterplan_id)
        else:
            written = {path for path, status in atoms if status == Atom.Status.COMPLETED}
            gate = wave_gate_status(masterplan_id, written, {path for path, _ in atoms})
        if masterplan.status != MasterPlan.Status.RUNNING:
            return f"none: the plan is {masterplan.status}", gate
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
