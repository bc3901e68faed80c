"""The composite precision score (docs/precision.md says each step with an example):

    score = 0.5 × spec conformance + 0.3 × integration pass + 0.2 × validation pass

- spec conformance = 0.7 × MUST pass rate + 0.3 × SHOULD pass rate, over the requirements
  of the plan: a requirement passes when its acceptance test's latest result passed; one
  without a test, with an invalid test or a test never run does not. A test written from a
  template (no LLM answered) checks nothing real: it is *unverified* and not counted.
- integration pass = passed ÷ total of the L2 and L3 checks in the categories
  integration, imports, contracts and interfaces;
- validation pass = passed ÷ total of the L1–L4 checks (a check that could not run is
  not passed).

Checks come from the plan's latest validation run. A rate with nothing to count is 1.0, as
the seed has it, and the component is named in `no_data`, so that an empty plan does not
read as a perfect one without saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q

from acceptance.gate import with_latest_results
from acceptance.models import AcceptanceTest, Requirement, TestResult
from execution.models import MasterPlan, Wave
from execution.runtime.lifecycle import PlanId
from precision.models import PrecisionSnapshot, ValidationCheck, ValidationRun

TARGET = 0.98
WEIGHTS = {"spec_conformance": 0.5, "integration_pass": 0.3, "validation_pass": 0.2}
MUST_WEIGHT, SHOULD_WEIGHT = 0.7, 0.3
INTEGRATION_LEVELS = (2, 3)
INTEGRATION_CATEGORIES = ("integration", "imports", "contracts", "interfaces")


@dataclass(frozen=True)
class Score:
    score: float
    spec_conformance: float
    integration_pass: float
    validation_pass: float
    no_data: list[str]
    counts: dict[str, Any]

    @property
    def meets_target(self) -> bool:
        return self.score >= TARGET


def _rate(passed: int, total: int) -> float:
    return passed / total if total else 1.0


def spec_counts(masterplan_id: PlanId) -> dict[str, Any]:
    counts: dict[str, Any] = {
        "must": {"total": 0, "passed": 0},
        "should": {"total": 0, "passed": 0},
        "unverified": 0,
    }
    for requirement in with_latest_results(Requirement.objects.filter(masterplan_id=masterplan_id)):
        test = getattr(requirement, "acceptance_test", None)
        if test is not None and not test.verified:
            counts["unverified"] += 1
            continue
        bucket = counts[requirement.priority]
        bucket["total"] += 1
        valid = test is not None and test.status == AcceptanceTest.Status.VALID
        if valid and requirement.latest_status == TestResult.Status.PASSED:  # type: ignore[attr-defined]
            bucket["passed"] += 1
    return counts


def check_counts(run: ValidationRun | None) -> dict[str, Any]:
    """Totals and passes per level and of the integration categories, in one query."""
    by_level = {str(level): {"total": 0, "passed": 0, "errors": 0} for level in (1, 2, 3, 4)}
    integration = {"total": 0, "passed": 0}
    if run is None:
        return {"by_level": by_level, "integration": integration}
    # The annotations are named apart from the fields: `passed=Count(...)` would shadow the
    # `passed` column in the other annotations' filters.
    rows = (
        ValidationCheck.objects.filter(run=run)
        .values("level")
        .annotate(
            n_total=Count("id"),
            n_passed=Count("id", filter=Q(passed=True)),
            n_errors=Count("id", filter=Q(status=ValidationCheck.Status.ERROR)),
            n_integration=Count("id", filter=Q(category__in=INTEGRATION_CATEGORIES)),
            n_integration_passed=Count(
                "id", filter=Q(category__in=INTEGRATION_CATEGORIES, passed=True)
            ),
        )
        .order_by("level")
    )
    for row in rows:
        by_level[str(row["level"])] = {
            "total": row["n_total"],
            "passed": row["n_passed"],
            "errors": row["n_errors"],
        }
        if row["level"] in INTEGRATION_LEVELS:
            integration["total"] += row["n_integration"]
            integration["passed"] += row["n_integration_passed"]
    return {"by_level": by_level, "integration": integration}


def compute(masterplan_id: PlanId, run: ValidationRun | None) -> Score:
    spec = spec_counts(masterplan_id)
    checks = check_counts(run)
    must, should = spec["must"], spec["should"]
    spec_conformance = MUST_WEIGHT * _rate(must["passed"], must["total"]) + SHOULD_WEIGHT * _rate(
        should["passed"], should["total"]
    )
    integration = checks["integration"]
    integration_pass = _rate(integration["passed"], integration["total"])
    levels = checks["by_level"].values()
    validation = {
        "total": sum(level["total"] for level in levels),
        "passed": sum(level["passed"] for level in levels),
    }
    validation_pass = _rate(validation["passed"], validation["total"])
    no_data = [
        name
        for name, total in (
            ("spec_conformance", must["total"] + should["total"]),
            ("integration_pass", integration["total"]),
            ("validation_pass", validation["total"]),
        )
        if total == 0
    ]
    score = (
        WEIGHTS["spec_conformance"] * spec_conformance
        + WEIGHTS["integration_pass"] * integration_pass
        + WEIGHTS["validation_pass"] * validation_pass
    )
    counts = {
        "spec_conformance": spec,
        "integration_pass": integration,
        "validation_pass": {**validation, "by_level": checks["by_level"]},
        "run": {"id": str(run.pk), "levels": run.levels} if run else None,
    }
    return Score(score, spec_conformance, integration_pass, validation_pass, no_data, counts)


def latest_run(masterplan_id: PlanId) -> ValidationRun | None:
    return (
        ValidationRun.objects.filter(
            masterplan_id=masterplan_id, status=ValidationRun.Status.FINISHED
        )
        .order_by("-created_at")
        .first()
    )


def take_snapshot(
    masterplan: MasterPlan, *, run: ValidationRun | None = None, wave: Wave | None = None
) -> PrecisionSnapshot:
    """Score the plan now (its latest validation run unless `run` is given) and keep it."""
    run = run or latest_run(masterplan.pk)
    score = compute(masterplan.pk, run)
    return PrecisionSnapshot.objects.create(
        masterplan=masterplan,
        run=run,
        wave=wave if wave is not None else (run.wave if run else None),
        score=score.score,
        spec_conformance=score.spec_conformance,
        integration_pass=score.integration_pass,
        validation_pass=score.validation_pass,
        meets_target=score.meets_target,
        no_data=score.no_data,
        counts=score.counts,
    )


def latest_snapshot(masterplan_id: PlanId) -> PrecisionSnapshot | None:
    return (
        PrecisionSnapshot.objects.filter(masterplan_id=masterplan_id)
        .order_by("-created_at")
        .first()
    )
