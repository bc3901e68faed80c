"""Start, pause, resume, cancel: over the API, and what each does to a run."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import engine_db
from execution.models import Atom, MasterPlan
from execution.runtime.jobs import QueueUnavailable
from execution.runtime.lifecycle import (
    TransitionRefused,
    cancel_masterplan,
    pause_masterplan,
    resume_masterplan,
    start_masterplan,
)

API = "/api/v2/execution/masterplans"


def statuses(masterplan: MasterPlan) -> dict[str, str]:
    return dict(masterplan.atoms.values_list("name", "status"))


@engine_db
def test_start_over_the_api_answers_202_with_the_job_and_the_job_is_readable(
    api_client_for, reviewer, imported
):
    masterplan = imported("slugkit")
    client = api_client_for(reviewer)
    response = client.post(f"{API}/{masterplan.pk}/start")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "running"
    assert body["job_ids"] == [body["job_id"]]

    job = client.get(f"/api/v2/jobs/{body['job_id']}")
    assert job.status_code == 200
    assert job.json()["status"] == "queued"
    assert "slugkit: wave 1" in job.json()["description"]
    assert client.get("/api/v2/jobs/no-such-job").status_code == 404


@engine_db
def test_starting_twice_is_a_conflict_naming_the_status(api_client_for, reviewer, imported):
    masterplan = imported("slugkit")
    client = api_client_for(reviewer)
    client.post(f"{API}/{masterplan.pk}/start")
    again = client.post(f"{API}/{masterplan.pk}/start")
    assert again.status_code == 409
    assert again.json()["status"] == "running"
    assert "it is running" in again.json()["detail"]


@pytest.mark.django_db
def test_control_needs_the_reviewer_role_and_a_known_masterplan(
    api_client_for, viewer, reviewer, imported
):
    masterplan = imported("slugkit")
    assert api_client_for(viewer).post(f"{API}/{masterplan.pk}/start").status_code == 403
    unknown = "00000000-0000-0000-0000-000000000000"
    assert api_client_for(reviewer).post(f"{API}/{unknown}/start").status_code == 404
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.READY


@pytest.mark.django_db
def test_start_with_the_queue_down_is_503_and_changes_nothing(
    api_client_for, reviewer, imported, settings
):
    masterplan = imported("slugkit")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api_client_for(reviewer).post(f"{API}/{masterplan.pk}/start")
    assert response.status_code == 503
    assert "the job queue (Redis) is not reachable" in response.json()["detail"]
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.READY


@pytest.mark.django_db
def test_progress_reports_waves_statuses_and_eta_fields(api_client_for, viewer, imported):
    masterplan = imported("inventory-service")
    body = api_client_for(viewer).get(f"{API}/{masterplan.pk}/progress").json()
    assert body["status"] == "ready"
    assert body["atoms_total"] == 9
    assert body["by_status"]["pending"] == 9
    assert [wave["atoms"] for wave in body["waves"]] == [5, 3, 1]
    assert body["cost_usd"] == "0.000000"  # money to the micro-dollar, like the budget API
    assert body["eta_seconds"] is None


@engine_db
def test_pause_before_the_worker_runs_admits_no_atom_and_resume_finishes(
    imported, fast_offline, run_jobs
):
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    pause_masterplan(masterplan.pk)
    run_jobs()
    assert set(statuses(masterplan).values()) == {"pending"}
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.PAUSED

    resume_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED


@engine_db
def test_pause_mid_wave_lets_in_flight_atoms_finish_and_starts_no_new_one(
    imported, stub_server, run_jobs, settings
):
    # One atom at a time (pinned: successes would otherwise probe the limit upwards), so a
    # pause lands between atoms.
    settings.MGE_CONCURRENCY_MIN = settings.MGE_CONCURRENCY_INITIAL = 1
    settings.MGE_CONCURRENCY_MAX = 1
    # Long enough that the pause lands while the second atom is still in its call, even on
    # a loaded machine (the next atom takes the slot as soon as a call ends).
    stub_server.configure(latency_ms=600)
    masterplan = imported("inventory-service")  # wave 1: five independent atoms
    start_masterplan(masterplan.pk)

    def pause_after_the_first_atom() -> None:
        from django.db import connection

        while not masterplan.atoms.filter(status=Atom.Status.COMPLETED).exists():
            time.sleep(0.05)
        pause_masterplan(masterplan.pk)
        connection.close()

    pauser = threading.Thread(target=pause_after_the_first_atom)
    pauser.start()
    run_jobs()
    pauser.join()

    counts = list(statuses(masterplan).values())
    assert "running" not in counts
    assert 1 <= counts.count("completed") <= 2  # the one in flight when pausing finished
    assert counts.count("pending") >= 7
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.PAUSED

    resume_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert max(stub_server.stats.calls_by_atom.values()) == 1


@engine_db
def test_cancel_skips_what_did_not_start(imported, fast_offline, run_jobs):
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    cancel_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.CANCELLED
    assert set(statuses(masterplan).values()) == {"skipped"}
    with pytest.raises(TransitionRefused, match="it is cancelled"):
        resume_masterplan(masterplan.pk)


@pytest.mark.django_db
def test_a_completed_plan_cannot_be_started_paused_or_cancelled(imported):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.COMPLETED)
    for action in (start_masterplan, pause_masterplan, cancel_masterplan, resume_masterplan):
        with pytest.raises(TransitionRefused):
            action(masterplan.pk)


@pytest.mark.django_db
def test_resume_with_the_queue_down_raises_and_keeps_the_status(imported, settings):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with pytest.raises(QueueUnavailable):
        resume_masterplan(masterplan.pk)
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.PAUSED
