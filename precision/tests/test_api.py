"""The score, history and validation endpoints as a service calls them, the gauges, the
CLI, and the panel on the masterplan page: all read the same snapshot."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from precision.models import PrecisionSnapshot, ValidationCheck, ValidationRun
from precision.scoring import take_snapshot
from precision.validation import validate

pytestmark = pytest.mark.django_db

FAULTY = {
    "Core": {"Lib": {"lib.py": "def area(width, height):\n    return width * height\n"}},
    "App": {"Main": {"app.py": "from lib import area, volume\n\nA = area(1)\nprint(missing)\n"}},
}


@pytest.fixture
def scored(plan_with_files):
    masterplan = plan_with_files(FAULTY, name="faulty")
    run = validate(masterplan, (1, 2, 3))
    take_snapshot(masterplan, run=run)
    return masterplan


def test_the_score_endpoint_answers_the_seeds_fields_in_constant_queries(
    scored, viewer, api_client_for, django_assert_max_num_queries
):
    client = api_client_for(viewer)
    url = f"/api/v2/precision/score/{scored.pk}"
    with django_assert_max_num_queries(6):
        response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    snapshot = PrecisionSnapshot.objects.get(masterplan=scored)
    assert body["score"] == round(snapshot.score, 4)
    assert {
        "spec_conformance",
        "integration_pass",
        "validation_pass",
        "meets_target",
        "target",
        "counts",
        "no_data",
        "snapshot_at",
    } <= set(body)
    assert body["target"] == 0.98 and body["meets_target"] is False
    assert body["no_data"] == ["spec_conformance"]  # the plan states no requirement
    # More checks, the same number of queries.
    run = ValidationRun.objects.get(masterplan=scored)
    ValidationCheck.objects.bulk_create(
        [
            ValidationCheck(
                run=run,
                level=1,
                scope="atom",
                category="lint",
                status="passed",
                passed=True,
                message="m",
            )
            for _ in range(300)
        ]
    )
    take_snapshot(scored, run=run)
    with django_assert_max_num_queries(6):
        assert client.get(url).status_code == 200


def test_a_plan_never_validated_says_so_and_an_unknown_one_is_404(imported, viewer, api_client_for):
    client = api_client_for(viewer)
    masterplan = imported("slugkit")
    body = client.get(f"/api/v2/precision/score/{masterplan.pk}").json()
    assert body["score"] is None and "not validated yet" in body["reason"]
    missing = uuid.uuid4()
    response = client.get(f"/api/v2/precision/score/{missing}")
    assert response.status_code == 404 and str(missing) in response.json()["detail"]
    assert client.get(f"/api/v2/validation/masterplan/{missing}").status_code == 404


def test_the_history_lists_every_snapshot_oldest_first(scored, viewer, api_client_for):
    take_snapshot(scored)
    body = api_client_for(viewer).get(f"/api/v2/precision/history/{scored.pk}").json()
    times = [snapshot["snapshot_at"] for snapshot in body["snapshots"]]
    assert len(times) == 2 and times == sorted(times)


def test_the_latest_checks_are_filtered_and_bad_filters_say_what_to_fix(
    scored, viewer, api_client_for
):
    client = api_client_for(viewer)
    url = f"/api/v2/validation/masterplan/{scored.pk}"
    failing = client.get(url, {"passed": "false"}).json()["checks"]
    assert {(c["level"], c["category"], c["file"]) for c in failing} == {
        (1, "undefined-name", "app.py"),
        (3, "interfaces", "app.py"),
        (3, "contracts", "app.py"),
    }
    assert all(c["atom"] == "app_py" for c in failing)
    level_three = client.get(url, {"level": "3", "severity": "CRITICAL"}).json()["checks"]
    assert [c["category"] for c in level_three] == ["interfaces"]
    response = client.get(url, {"level": "7", "passed": "maybe"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "must be one of 1, 2, 3, 4" in errors["level"][0]
    assert "must be true or false" in errors["passed"][0]
    assert "level: must be one of" in response.json()["detail"]


def test_a_reviewer_queues_a_validation_and_a_viewer_may_not(
    scored, reviewer, viewer, api_client_for, run_jobs, django_capture_on_commit_callbacks
):
    url = f"/api/v2/validation/masterplan/{scored.pk}"
    assert api_client_for(viewer).post(url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(reviewer).post(url)
    assert response.status_code == 202
    assert response.json()["status_url"] == f"/api/v2/jobs/{response.json()['job_id']}"
    run_jobs()
    latest = ValidationRun.objects.filter(masterplan=scored).latest("created_at")
    assert latest.levels == [1, 2, 3, 4] and latest.status == "finished"
    assert PrecisionSnapshot.objects.filter(masterplan=scored).latest("created_at").run == latest


def test_the_cli_runs_every_level_and_prints_json_with_workspace_paths(plan_with_files, capsys):
    masterplan = plan_with_files(FAULTY, name="faulty")
    call_command("mge", "validate", "faulty", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["masterplan"]["name"] == "faulty"
    assert report["run"]["levels"] == [1, 2, 3, 4]
    undefined = next(
        c for c in report["checks"] if c["category"] == "undefined-name" and not c["passed"]
    )
    assert undefined == {
        **undefined,
        "level": 1,
        "severity": "CRITICAL",
        "file": "app.py",
        "line": 4,
        "atom": "app_py",
    }
    assert report["score"]["score"] == round(
        PrecisionSnapshot.objects.get(masterplan=masterplan).score, 4
    )


def test_the_cli_prints_the_checks_by_level_and_refuses_an_unknown_plan(scored, capsys):
    call_command("mge", "validate", str(scored.pk))
    out = capsys.readouterr().out
    assert "L1 atomic:" in out and "L3 milestone:" in out and "precision " in out
    assert "FAIL CRITICAL undefined-name" in out
    with pytest.raises(CommandError) as refused:
        call_command("mge", "validate", "no-such-plan")
    assert refused.value.returncode == 2 and "'no-such-plan'" in str(refused.value)


def test_the_gauges_read_the_latest_snapshot(scored, client):
    snapshot = PrecisionSnapshot.objects.get(masterplan=scored)
    text = client.get("/metrics").content.decode()
    label = f'masterplan_id="{scored.pk}"'
    assert f"v2_precision_percent{{{label}}} {snapshot.score * 100}" in text
    assert f'v2_validation_pass_percent{{level="1",{label}}}' in text
    assert f"v2_integration_pass_percent{{{label}}}" in text


def test_the_page_shows_the_score_the_components_and_links_the_failing_checks(
    scored, client, viewer
):
    client.force_login(viewer)
    page = client.get(reverse("execution:masterplan-detail", args=[scored.pk])).content.decode()
    snapshot = PrecisionSnapshot.objects.get(masterplan=scored)
    assert f"{snapshot.score * 100:.1f} %" in page and "against the 98 % target" in page
    assert "spec conformance" in page and "(no data)" in page
    file_url = reverse("execution:masterplan-file", args=[scored.pk])
    assert f'href="{file_url}?path=app.py#L4"' in page
    atom = scored.atoms.get(file_path="app.py")
    assert f"#atom-{atom.pk}" in page and f'id="atom-{atom.pk}"' in page
    file_page = client.get(file_url, {"path": "app.py"}).content.decode()
    assert '<span class="line" id="L4">print(missing)</span>' in file_page
