"""/api/v2/testing/: generate, run, results, gate-status — and what bad input gets."""

from __future__ import annotations

import uuid

import pytest

from acceptance.models import AcceptanceTest, TestRun
from execution.actions import import_masterplan
from execution.tests.test_masterplan_format import MINIMAL


@pytest.fixture
def slugkit_with_tests(imported, fast_offline, run_jobs):
    """slugkit with its code written (offline) and its tests generated."""
    from acceptance.generator import generate_tests
    from execution.runtime.lifecycle import start_masterplan

    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    generate_tests(masterplan.pk)
    return masterplan


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_generate_then_run_then_read_results_and_the_gate(
    slugkit_with_tests, api_client_for, reviewer, run_jobs
):
    masterplan = slugkit_with_tests
    client = api_client_for(reviewer)
    response = client.post(f"/api/v2/testing/generate/{masterplan.pk}")
    assert response.status_code == 202 and response.json()["status_url"].startswith("/api/v2/jobs/")
    run_jobs()
    assert AcceptanceTest.objects.filter(masterplan=masterplan, status="valid").count() == 7

    wave = masterplan.waves.order_by("-number").first()
    response = client.post(f"/api/v2/testing/run/{wave.pk}")
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    again = client.post(f"/api/v2/testing/run/{wave.pk}")
    assert again.status_code == 409 and "already queued" in again.json()["detail"]
    run_jobs()
    summary = client.get(response.json()["status_url"]).json()
    assert summary["status"] == "finished", summary
    assert (summary["total_tests"], summary["passed"], summary["failed"]) == (7, 7, 0)
    assert (summary["must_pass_rate"], summary["should_pass_rate"]) == (1.0, 1.0)

    results = client.get(f"/api/v2/testing/results/{masterplan.pk}?priority=should").json()
    assert results["count"] == 2
    assert {r["status"] for r in results["results"]} == {"passed"}
    assert results["results"][0]["wave_number"] == wave.number
    by_wave = client.get(f"/api/v2/testing/results/{masterplan.pk}?wave={wave.number}").json()
    assert by_wave["count"] == 7

    gate = client.get(f"/api/v2/testing/gate-status/{masterplan.pk}").json()
    assert gate["gate_passed"] is True and gate["blocking_tests"] == []
    assert (gate["must_pass_rate"], gate["should_pass_rate"]) == (1.0, 1.0)


@pytest.mark.django_db
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(api_client_for, reviewer, viewer, imported):
    masterplan = imported("slugkit")
    client = api_client_for(reviewer)
    unknown = uuid.uuid4()
    assert client.post(f"/api/v2/testing/generate/{unknown}").status_code == 404
    assert client.post(f"/api/v2/testing/run/{unknown}").status_code == 404

    wave = masterplan.waves.first()
    no_tests = client.post(f"/api/v2/testing/run/{wave.pk}")
    assert no_tests.status_code == 409
    assert "generate them first" in no_tests.json()["detail"]
    assert not TestRun.objects.exists()

    no_code = client.post(f"/api/v2/testing/generate/{masterplan.pk}")
    assert no_code.status_code == 409
    assert "No code has been generated yet" in no_code.json()["detail"]

    bare = import_masterplan(MINIMAL)
    no_requirements = client.post(f"/api/v2/testing/generate/{bare.pk}")
    assert no_requirements.status_code == 409
    assert "no requirements to test" in no_requirements.json()["detail"]
    # The gate of a plan with no requirements is an answer; of no plan, a 404.
    assert client.get(f"/api/v2/testing/gate-status/{bare.pk}").json()["must"]["total"] == 0
    no_plan = client.get(f"/api/v2/testing/gate-status/{unknown}")
    assert no_plan.status_code == 404 and str(unknown) in no_plan.json()["detail"]

    bad = client.get(f"/api/v2/testing/results/{masterplan.pk}?status=green&priority=may")
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert errors["status"] == ["'green' is not one of passed, failed, error, skipped, timeout"]
    assert "priority" in errors
    bad_wave = client.get(f"/api/v2/testing/results/{masterplan.pk}?wave=nope")
    assert bad_wave.status_code == 400
    assert "Give a wave number" in bad_wave.json()["errors"]["wave"][0]
    for undecided, message in [
        ("maybe", "must be true or false (or 1/0, yes/no)"),
        ("null", "must be true or false (or 1/0, yes/no)"),
        ("", "give a value, or leave the parameter out"),
    ]:
        latest = client.get(f"/api/v2/testing/results/{masterplan.pk}", {"latest": undecided})
        assert latest.status_code == 400, undecided
        assert latest.json()["errors"]["latest"] == [message]
    no_such_wave = client.get(
        f"/api/v2/testing/results/{masterplan.pk}", {"wave": str(uuid.uuid4())}
    )
    assert no_such_wave.status_code == 200 and no_such_wave.json()["count"] == 0

    assert (
        api_client_for(viewer).post(f"/api/v2/testing/generate/{masterplan.pk}").status_code == 403
    )
    gate = api_client_for(viewer).get(f"/api/v2/testing/gate-status/{masterplan.pk}").json()
    assert gate["gate_passed"] is False
    assert [b["status"] for b in gate["blocking_tests"]] == ["missing"] * 7
