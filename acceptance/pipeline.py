"""What the acceptance app does around a masterplan's run: classify the unclear
requirements after import, and — as the check the lifecycle asks after each wave —
generate the tests (once) and run them, the gate giving the verdict. What the verdict
means for the plan (go on, hold, end `gate_failed`) is the lifecycle's."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from acceptance.classifier import classify_with_llm
from acceptance.gate import GateStatus, gate_status, wave_gate_status
from acceptance.generator import generate_tests
from acceptance.jobs import JOB_TIMEOUT_SECONDS
from acceptance.models import Requirement, TestRun
from acceptance.runs import active_run, execute_run, queue_run, run_summary
from execution.models import Atom, MasterPlan, Wave
from execution.runtime import checks, lifecycle
from execution.runtime.checks import Check, Verdict
from mge_site.redis_connection import get_redis

CHECK_NAME = "acceptance"


def classify_unclear(masterplan_id: lifecycle.PlanId) -> int:
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


def after_wave(wave: Wave) -> Verdict:
    """The acceptance check after a wave (its job runs on the queue `tests`): the tests
    generated once code exists, run in one batch, and the gate's verdict."""
    masterplan = wave.masterplan
    generate_once(masterplan.pk, replace=False)
    run = execute_run(queue_run(masterplan, wave).pk)
    verdict, _ = verdict_of(run)
    return verdict or Verdict(
        None, "The acceptance run did not see every atom's code: press Run tests on the "
        "acceptance page, its gate decides then."
    )  # fmt: skip


ACCEPTANCE_CHECK = Check(
    name=CHECK_NAME,
    decide=after_wave,
    enabled=lambda: bool(settings.MGE_ACCEPTANCE_AFTER_WAVES),
    gates_each_wave=lambda masterplan: bool(masterplan.options.get("enforce_gate_per_wave")),
    queue="tests",
    timeout_seconds=JOB_TIMEOUT_SECONDS,
    waiting="the acceptance tests run now and their gate decides",
)


def generate_once(masterplan_id: lifecycle.PlanId, *, replace: bool) -> dict[str, Any]:
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


def verdict_of(run: TestRun) -> tuple[Verdict | None, GateStatus | None]:
    """The gate's verdict on a run: once every atom is done the gate over every
    requirement, on a run that saw every atom's code (another decides nothing: None);
    before, only the requirements whose code the run had count."""
    if run.status != TestRun.Status.FINISHED:
        # No results, so no verdict: the plan waits, saying why.
        return Verdict(
            None, f"The acceptance run {run.status}: {run.message} Fix the cause and press "
            "Run tests on the acceptance page: its gate decides then."
        ), None  # fmt: skip
    atoms = list(Atom.objects.filter(masterplan_id=run.masterplan_id).values_list(
        "file_path", "status"))  # fmt: skip
    every_atom_done = all(status in Atom.TERMINAL_STATUSES for _, status in atoms)
    if every_atom_done and not run.code_complete:
        return None, None
    if every_atom_done:
        gate = gate_status(run.masterplan_id)
    else:
        planned = {path for path, _ in atoms}
        gate = wave_gate_status(run.masterplan_id, set(run.written_files), planned)
    reason = ""
    if not gate.gate_passed:
        blocking = gate.blocking_summary()
        reason = f"acceptance gate failed: {gate.reason}" + (
            f". Blocking: {blocking}; each test's message is on the acceptance page."
            if blocking
            else ""
        )
    return Verdict(gate.gate_passed, reason), gate


def decide_after_run(run: TestRun) -> dict[str, Any]:
    """A run started by hand gives its verdict to the acceptance check still waiting for
    one: how a plan held by a refused or crashed run goes on once the cause is fixed."""
    summary = run_summary(run)
    verdict, gate = verdict_of(run)
    if verdict is None:
        return {**summary, "decision": "none: a run that saw every atom's code decides"}
    if gate is None:
        return {**summary, "decision": f"none: the run {run.status}"}
    row = checks.open_row_seen_by(run.masterplan_id, CHECK_NAME, run.started_at or run.created_at)
    decision = "none: no check waits for a verdict"
    if row is not None:
        decision = lifecycle.check_decided(checks.record(row, verdict))
    return {**summary, "gate_passed": gate.gate_passed, "gate_reason": gate.reason,
            "decision": decision}  # fmt: skip
