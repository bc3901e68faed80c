"""The release gate: MUST 100 %, SHOULD ≥ 95 %, on each test's latest result; nothing
untested or never run ever passes."""

from __future__ import annotations

import pytest

from acceptance.gate import gate_status
from acceptance.models import AcceptanceTest, TestResult, TestRun
from execution.actions import import_masterplan
from execution.tests.test_masterplan_format import MINIMAL


def plan_with(must: int, should: int):  # type: ignore[no-untyped-def]
    lines = ["## Requirements", "### MUST"] + [f"- Rule {i} MUST hold" for i in range(must)]
    lines += ["### SHOULD"] + [f"- Wish {i} SHOULD hold" for i in range(should)]
    text = MINIMAL.replace("Some prose.", "\n".join(lines) if must + should else "Some prose.")
    return import_masterplan(text)


def with_results(masterplan, statuses: dict[int, str]) -> TestRun:  # type: ignore[no-untyped-def]
    """Give every requirement a valid test; record `statuses` by position in one run
    (positions left out get no result)."""
    run = TestRun.objects.create(masterplan=masterplan, status=TestRun.Status.FINISHED)
    for requirement in masterplan.requirements.all():
        test, _ = AcceptanceTest.objects.get_or_create(
            requirement=requirement,
            defaults={"masterplan": masterplan, "framework": "pytest", "generated_by": "llm",
                      "file_path": f"tests/acceptance/test_r{requirement.position + 1:02d}.py",
                      "code": "def test_x():\n    assert True\n"},
        )  # fmt: skip
        if requirement.position in statuses:
            TestResult.objects.create(run=run, test=test, status=statuses[requirement.position])
    return run


def every(masterplan, status: str) -> dict[int, str]:  # type: ignore[no-untyped-def]
    return dict.fromkeys(range(masterplan.requirements.count()), status)


@pytest.mark.django_db
def test_no_requirements_is_a_failed_gate_not_a_division_by_zero():
    gate = gate_status(plan_with(0, 0).pk)
    assert not gate.gate_passed and not gate.can_release
    assert gate.must_pass_rate is None and gate.should_pass_rate is None
    assert gate.reason.startswith("no requirements")


@pytest.mark.django_db
def test_requirements_without_tests_or_results_block_with_their_reason():
    masterplan = plan_with(2, 1)
    gate = gate_status(masterplan.pk)
    assert not gate.gate_passed
    assert {b.status for b in gate.blocking_tests} == {"missing"}
    with_results(masterplan, {0: "passed"})
    gate = gate_status(masterplan.pk)
    assert [(b.priority, b.status) for b in gate.blocking_tests] == [
        ("must", "not_run"),
        ("should", "not_run"),
    ]
    assert (
        gate.reason == "1 of 2 MUST tests do not pass; SHOULD tests pass 0 of 1 (0.0%), below 95%"
    )


@pytest.mark.django_db
def test_one_should_failing_of_twenty_is_ninety_five_percent_and_passes():
    masterplan = plan_with(2, 20)
    statuses = every(masterplan, "passed") | {21: "failed"}
    with_results(masterplan, statuses)
    gate = gate_status(masterplan.pk)
    assert gate.gate_passed and gate.can_release
    assert gate.should_pass_rate == pytest.approx(0.95)
    assert gate.as_json()["should_pass_rate"] == 0.95
    assert [b.status for b in gate.blocking_tests] == ["failed"]


@pytest.mark.django_db
def test_one_should_failing_of_nineteen_fails_the_gate_but_allows_release():
    masterplan = plan_with(2, 19)
    with_results(masterplan, every(masterplan, "passed") | {20: "timeout"})
    gate = gate_status(masterplan.pk)
    assert not gate.gate_passed and gate.can_release
    assert "18 of 19 (94.7%), below 95%" in gate.reason


@pytest.mark.django_db
def test_a_failing_must_blocks_the_gate_and_the_release():
    masterplan = plan_with(3, 1)
    with_results(masterplan, every(masterplan, "passed") | {1: "error"})
    gate = gate_status(masterplan.pk)
    assert not gate.gate_passed and not gate.can_release
    assert gate.must_pass_rate == pytest.approx(2 / 3)
    assert gate.reason == "1 of 3 MUST tests do not pass"


@pytest.mark.django_db
def test_skipped_and_invalid_tests_do_not_count_as_passing():
    masterplan = plan_with(2, 0)
    with_results(masterplan, {0: "skipped", 1: "passed"})
    AcceptanceTest.objects.filter(requirement__position=1).update(
        status="invalid", invalid_reason="line 3: invalid syntax"
    )
    blocking = gate_status(masterplan.pk).blocking_tests
    assert [(b.status, b.message) for b in blocking] == [
        ("skipped", "the test ended skipped"),
        ("invalid", "the generated test is invalid: line 3: invalid syntax"),
    ]


@pytest.mark.django_db
def test_only_the_latest_result_of_each_test_counts():
    masterplan = plan_with(1, 0)
    with_results(masterplan, {0: "failed"})
    assert not gate_status(masterplan.pk).gate_passed
    with_results(masterplan, {0: "passed"})
    assert gate_status(masterplan.pk).gate_passed
    with_results(masterplan, {0: "failed"})
    assert not gate_status(masterplan.pk).gate_passed


def test_a_test_imports_the_generated_files_it_names_and_their_packages():
    from acceptance.imports import imported_files

    files = {"pkg/__init__.py", "pkg/a.py", "pkg/b.py", "src/bus.ts", "client/parse.js"}
    python = "import json\nfrom pkg.a import a\nimport pkg.b as b\nfrom . import local\n"
    assert imported_files(python, "pytest", "tests/acceptance/test_r01.py", files) == {
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/b.py",
    }
    typescript = (
        'import { describe } from "vitest";\nimport { createBus } from "../../src/bus";\n'
        'import { parse } from "../../client/parse.js";\n'
    )
    assert imported_files(typescript, "vitest", "tests/acceptance/r01.test.ts", files) == {
        "src/bus.ts",
        "client/parse.js",
    }


@pytest.mark.django_db
def test_after_a_wave_only_requirements_whose_code_is_written_count():
    from acceptance.gate import wave_gate_status

    masterplan = plan_with(2, 0)
    with_results(masterplan, {0: "passed", 1: "failed"})
    AcceptanceTest.objects.filter(requirement__position=1).update(code="from pkg.b import b\n")
    planned = {"pkg/a.py", "pkg/b.py"}
    early = wave_gate_status(masterplan.pk, written={"pkg/a.py"}, planned=planned)
    assert early.gate_passed and early.must_total == 1
    assert early.reason.endswith("(1 requirements wait for later waves)")
    later = wave_gate_status(masterplan.pk, written=planned, planned=planned)
    assert not later.gate_passed and later.reason == "1 of 2 MUST tests do not pass"
    AcceptanceTest.objects.filter(requirement__position=0).update(code="import pkg.b\n")
    nothing_due = wave_gate_status(masterplan.pk, written=set(), planned=planned)
    assert nothing_due.gate_passed
    assert nothing_due.reason == "no requirement can be tested yet (2 wait for later waves)"
