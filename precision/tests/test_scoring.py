"""The composite score, computed by hand: weights, empty components, unverified tests, and
which findings fail a check."""

from __future__ import annotations

import pytest

from acceptance.models import AcceptanceTest, Requirement, TestResult, TestRun
from execution.models import MasterPlan
from precision.findings import CheckResult, Finding
from precision.models import ValidationCheck, ValidationRun
from precision.scoring import compute, take_snapshot

pytestmark = pytest.mark.django_db


def requirement(
    masterplan: MasterPlan,
    priority: str,
    result: str | None,
    generated_by: str = "llm",
    status: str = "valid",
) -> Requirement:
    position = masterplan.requirements.count()
    req = Requirement.objects.create(
        masterplan=masterplan,
        text=f"R{position}",
        priority=priority,
        source_line=1,
        position=position,
    )
    test = AcceptanceTest.objects.create(
        masterplan=masterplan,
        requirement=req,
        framework="pytest",
        file_path=f"tests/test_r{position}.py",
        code="def test(): pass\n",
        generated_by=generated_by,
        status=status,
    )
    if result is not None:
        run = TestRun.objects.create(masterplan=masterplan, status="finished")
        TestResult.objects.create(run=run, test=test, status=result)
    return req


def checks(masterplan: MasterPlan, rows: list[tuple[int, str, bool]]) -> ValidationRun:
    run = ValidationRun.objects.create(
        masterplan=masterplan, levels=[1, 2, 3, 4], status="finished"
    )
    ValidationCheck.objects.bulk_create(
        [
            ValidationCheck(
                run=run,
                level=level,
                scope="atom",
                category=category,
                status="passed" if passed else "failed",
                passed=passed,
                message="m",
            )
            for level, category, passed in rows
        ]
    )
    return run


@pytest.fixture
def masterplan(imported):
    plan = imported("slugkit")
    plan.requirements.all().delete()
    return plan


def test_the_score_weighs_its_three_components_as_documented(masterplan):
    # MUST 3 of 4 pass, SHOULD 1 of 2: spec = 0.7 × 0.75 + 0.3 × 0.5 = 0.675
    for result in ("passed", "passed", "passed", "failed"):
        requirement(masterplan, "must", result)
    requirement(masterplan, "should", "passed")
    requirement(masterplan, "should", "timeout")
    # L2/L3 integration categories: 3 of 4 pass (the L1 lint and the L3 'other' are not
    # counted there); all levels: 6 of 8.
    run = checks(
        masterplan,
        [
            (1, "lint", True),
            (1, "undefined-name", False),
            (2, "imports", True),
            (2, "contracts", True),
            (3, "interfaces", False),
            (3, "integration", True),
            (3, "other", True),
            (4, "build", True),
        ],
    )
    score = compute(masterplan.pk, run)
    assert score.spec_conformance == pytest.approx(0.675)
    assert score.integration_pass == pytest.approx(0.75)
    assert score.validation_pass == pytest.approx(0.75)
    assert score.score == pytest.approx(0.5 * 0.675 + 0.3 * 0.75 + 0.2 * 0.75)  # 0.7125
    assert score.no_data == [] and not score.meets_target
    assert score.counts["validation_pass"]["by_level"]["3"] == {
        "total": 3,
        "passed": 2,
        "errors": 0,
    }


def test_a_plan_with_nothing_to_count_scores_one_and_says_why(masterplan):
    score = compute(masterplan.pk, None)
    assert score.score == 1.0 and score.meets_target
    assert score.no_data == ["spec_conformance", "integration_pass", "validation_pass"]


def test_only_verified_tests_count_and_a_missing_result_is_not_a_pass(masterplan):
    requirement(masterplan, "must", "passed")
    requirement(masterplan, "must", "passed", generated_by="template")  # unverified
    requirement(masterplan, "must", None)  # never ran
    requirement(masterplan, "should", None, status="invalid")
    score = compute(masterplan.pk, checks(masterplan, [(1, "lint", True)]))
    spec = score.counts["spec_conformance"]
    assert spec["must"] == {"total": 2, "passed": 1} and spec["unverified"] == 1
    assert spec["should"] == {"total": 1, "passed": 0}
    assert score.spec_conformance == pytest.approx(0.7 * 0.5 + 0.3 * 0.0)
    assert score.no_data == ["integration_pass"]  # the run has no L2/L3 check


def test_the_target_is_ninety_eight_percent(masterplan):
    # spec 1.0 (no requirements), validation 49/50 = 0.98, integration 1.0 (none):
    # 0.5 + 0.3 + 0.2 × 0.98 = 0.996 ≥ 0.98
    run = checks(masterplan, [(1, "lint", True)] * 49 + [(1, "lint", False)])
    assert compute(masterplan.pk, run).meets_target
    # integration 9 of 10 = 0.9 → 0.5 + 0.27 + 0.2 × 0.9 = 0.95 < 0.98
    run = checks(masterplan, [(2, "imports", True)] * 9 + [(2, "imports", False)])
    score = compute(masterplan.pk, run)
    assert score.score == pytest.approx(0.95) and not score.meets_target


def test_a_critical_or_high_finding_fails_its_check_and_a_low_one_does_not():
    def status(*severities: str) -> str:
        return CheckResult(
            1, "atom", "lint", "a.py", "subject", findings=[Finding(s, "x") for s in severities]
        ).status

    assert status() == "passed"
    assert status("LOW", "MEDIUM") == "passed"
    assert status("LOW", "HIGH") == "failed"
    assert status("CRITICAL") == "failed"
    errored = CheckResult(4, "masterplan", "build", "", "tsc", error="install Node.js")
    assert errored.status == "error" and errored.message == "install Node.js"


def test_a_snapshot_keeps_the_score_and_what_it_was_computed_from(masterplan):
    requirement(masterplan, "must", "failed")
    run = checks(masterplan, [(1, "lint", True), (2, "imports", False)])
    snapshot = take_snapshot(masterplan)
    assert snapshot.run == run
    # MUST 0 of 1, no SHOULD (1.0); integration 0 of 1; validation 1 of 2
    assert snapshot.score == pytest.approx(0.5 * (0.7 * 0 + 0.3 * 1.0) + 0.3 * 0 + 0.2 * 0.5)
    assert snapshot.spec_conformance == pytest.approx(0.3)
    assert snapshot.counts["run"] == {"id": str(run.pk), "levels": [1, 2, 3, 4]}
