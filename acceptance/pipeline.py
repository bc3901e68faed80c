"""What the acceptance app does around a masterplan's run: classify the unclear
requirements after import, and after each wave generate (once) and run the tests, then
let the gate decide whether the plan goes on and how it ends."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from acceptance.classifier import classify_with_llm
from acceptance.gate import gate_status
from acceptance.generator import generate_tests
from acceptance.models import AcceptanceTest, Requirement
from acceptance.runs import execute_run, queue_run, run_summary
from execution import engine
from execution.models import Atom, MasterPlan, Wave

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
    if not AcceptanceTest.objects.filter(masterplan=masterplan).exists():
        generate_tests(masterplan.pk)
    run = execute_run(queue_run(masterplan, wave).pk)
    gate = gate_status(masterplan.pk)
    decision = _decide(masterplan.pk, gate.gate_passed, gate.reason)
    return {**run_summary(run), "gate_passed": gate.gate_passed, "decision": decision}


def _decide(masterplan_id: object, gate_passed: bool, reason: str) -> str:
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        if masterplan.status != MasterPlan.Status.RUNNING:
            return f"none: the plan is {masterplan.status}"
        every_atom_done = not masterplan.atoms.exclude(status__in=Atom.TERMINAL_STATUSES).exists()
        last = every_atom_done and engine.open_wave(masterplan) is None
        enforce = bool(masterplan.options.get("enforce_gate_per_wave"))
        if not gate_passed and (last or enforce):
            masterplan.status = MasterPlan.Status.GATE_FAILED
            masterplan.status_reason = f"acceptance gate failed: {reason}"
            masterplan.finished_at = timezone.now()
            masterplan.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
            return "gate_failed"
    if last or enforce:
        # The engine held the plan for this decision: let it go on (or end) as usual.
        engine.advance_masterplan(masterplan_id, gate_decided=True)
        return "advanced"
    return "none: the gate decides at the end"
