"""A template test (no LLM answered) checks only that names exist: its pass releases
nothing until a reviewer marks it reviewed."""

from __future__ import annotations

import pytest

from acceptance.gate import gate_status, requirement_labels
from acceptance.models import AcceptanceTest
from acceptance.tests.test_gate import every, plan_with, with_results
from conftest import engine_db
from execution.actions import import_masterplan
from execution.models import MasterPlan
from execution.runtime.lifecycle import start_masterplan
from execution.tests.test_masterplan_format import MINIMAL
from precision.scoring import spec_counts

pytestmark = pytest.mark.django_db


def from_templates(masterplan, positions: set[int]) -> None:  # type: ignore[no-untyped-def]
    AcceptanceTest.objects.filter(
        masterplan=masterplan, requirement__position__in=positions
    ).update(generated_by=AcceptanceTest.GeneratedBy.TEMPLATE)


def test_passing_template_tests_block_the_gate_and_say_what_to_do():
    masterplan = plan_with(7, 1)
    with_results(masterplan, every(masterplan, "passed"))
    assert gate_status(masterplan.pk).gate_passed
    from_templates(masterplan, set(range(7)))
    gate = gate_status(masterplan.pk)
    assert not gate.gate_passed and not gate.can_release
    assert gate.reason.startswith(
        "R1–R7 have no real test yet (written from a template: no LLM answered); "
        "regenerate with a provider or mark a test reviewed"
    )
    assert {(b.priority, b.status) for b in gate.blocking_tests} == {("must", "unverified")}
    assert "checks only that the code's names exist" in gate.blocking_tests[0].message


def test_a_failing_template_test_keeps_its_own_failure():
    masterplan = plan_with(1, 0)
    with_results(masterplan, {0: "failed"})
    from_templates(masterplan, {0})
    assert [b.status for b in gate_status(masterplan.pk).blocking_tests] == ["failed"]


def test_the_status_line_names_at_most_five_blocking_tests():
    masterplan = plan_with(7, 0)
    with_results(masterplan, {0: "failed", 1: "timeout"})
    assert gate_status(masterplan.pk).blocking_summary() == (
        "R1 (failed), R2 (timeout), R3 (not run), R4 (not run), R5 (not run) and 2 more"
    )


def test_labels_compress_runs():
    assert requirement_labels([5, 1, 2, 3, 9]) == "R1–R3, R5, R9"
    assert requirement_labels([4]) == "R4"


def test_a_reviewer_marks_a_template_test_reviewed_over_the_api(api_client_for, reviewer, viewer):
    masterplan = plan_with(1, 1)
    with_results(masterplan, every(masterplan, "passed"))
    from_templates(masterplan, {0})
    assert spec_counts(masterplan.pk)["unverified"] == 1
    test = AcceptanceTest.objects.get(requirement__position=0)
    url = f"/api/v2/testing/tests/{test.pk}/review"
    assert api_client_for(viewer).post(url).status_code == 403

    reviewed = api_client_for(reviewer).post(url)
    assert reviewed.status_code == 200, reviewed.content
    assert reviewed.json()["reviewed_by"] == reviewer.username and reviewed.json()["reviewed_at"]
    gate = api_client_for(viewer).get(f"/api/v2/testing/gate-status/{masterplan.pk}").json()
    assert gate["gate_passed"] is True
    assert spec_counts(masterplan.pk)["unverified"] == 0

    again = api_client_for(reviewer).post(url)
    assert (
        again.status_code == 409 and "already reviewed by rita_reviewer" in again.json()["detail"]
    )
    llm_test = AcceptanceTest.objects.get(requirement__position=1)
    written = api_client_for(reviewer).post(f"/api/v2/testing/tests/{llm_test.pk}/review")
    assert written.status_code == 409 and "counts already" in written.json()["detail"]
    unknown = api_client_for(reviewer).post(
        "/api/v2/testing/tests/00000000-0000-0000-0000-000000000000/review"
    )
    assert unknown.status_code == 404


def test_the_acceptance_page_shows_unverified_tests_and_marks_them_reviewed(
    client, reviewer, viewer
):
    masterplan = plan_with(1, 0)
    with_results(masterplan, every(masterplan, "passed"))
    from_templates(masterplan, {0})
    page_url = f"/masterplans/{masterplan.pk}/acceptance/"
    client.force_login(viewer)
    as_viewer = client.get(page_url).content.decode()
    assert "unverified" in as_viewer and "R1 has no real test yet" in as_viewer
    assert "Mark reviewed" not in as_viewer

    client.force_login(reviewer)
    assert "Mark reviewed" in client.get(page_url).content.decode()
    test = AcceptanceTest.objects.get()
    done = client.post(f"{page_url}tests/{test.pk}/review/", follow=True).content.decode()
    assert "marked reviewed: its result now counts" in done
    assert "Reviewed by rita_reviewer" in done
    assert gate_status(masterplan.pk).gate_passed


@engine_db
def test_an_offline_run_of_an_unknown_plan_ends_gate_failed_never_released(
    fast_offline, settings, run_jobs
):
    settings.MGE_ACCEPTANCE_AFTER_WAVES = True
    document = MINIMAL.replace(
        "Some prose.",
        "## Requirements\n### MUST\n- `a()` in pkg/a.py MUST exist\n- `b()` in pkg/b.py MUST exist",
    )
    masterplan = import_masterplan(document)
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert set(masterplan.atoms.values_list("placeholder", flat=True)) == {True}
    tests = AcceptanceTest.objects.filter(masterplan=masterplan)
    assert set(tests.values_list("generated_by", flat=True)) == {"template"}
    assert masterplan.status == MasterPlan.Status.GATE_FAILED, masterplan.status
    assert "R1–R2 have no real test yet" in masterplan.status_reason
