"""The traceability API and the atom trace page, as a reviewer reads them."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from budget.models import CostEntry
from conftest import engine_db
from execution.models import Atom
from execution.runtime.lifecycle import start_masterplan
from tracing.models import AtomExecutionTrace


@engine_db
def test_the_trace_of_an_atom_has_its_ordered_events_cost_buckets_and_checks(
    imported, stub_server, run_jobs, api_client_for, viewer
):
    stub_server.configure(atom_texts={"fold_accents": ["No code, only prose."]})  # one retry
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    fold = Atom.objects.get(masterplan=masterplan, name="fold_accents")

    body = api_client_for(viewer).get(f"/api/v2/traceability/trace/{fold.pk}").json()
    assert body["atom"]["name"] == "fold_accents" and body["atom"]["status"] == "completed"
    assert body["executions"] == [1]
    trace = body["trace"]
    assert trace["status"] == "completed" and trace["total_retries"] == 1
    assert [event["seq"] for event in trace["events"]] == list(range(1, len(trace["events"]) + 1))
    assert [event["kind"] for event in trace["events"]].count("llm_call") == 2
    ledger = CostEntry.objects.filter(atom=fold).aggregate(cost=Sum("cost_usd"))["cost"]
    assert Decimal(trace["cost_usd"]) == ledger == Decimal(trace["cost_by_bucket"]["cost_usd"])
    assert trace["cost_by_bucket"]["input_tokens"] == fold.input_tokens


@pytest.mark.django_db
def test_an_unknown_atom_is_a_404_naming_it_and_one_never_run_an_empty_trace(
    imported, api_client_for, viewer
):
    client = api_client_for(viewer)
    missing = uuid.uuid4()
    for atom_id in (str(missing), "not-a-uuid"):
        response = client.get(f"/api/v2/traceability/trace/{atom_id}")
        assert response.status_code == 404
        assert atom_id in response.json()["detail"]
    atom = imported("slugkit").atoms.first()
    body = client.get(f"/api/v2/traceability/trace/{atom.pk}").json()
    assert body["trace"] is None and body["executions"] == []
    assert body["atom"]["status"] == "pending"
    response = client.get(f"/api/v2/traceability/trace/{atom.pk}?execution=2")
    assert response.status_code == 404
    assert "has no execution 2: it has not run yet" in response.json()["detail"]
    response = client.get(f"/api/v2/traceability/trace/{atom.pk}?execution=zero")
    assert response.status_code == 400 and "execution" in response.json()["errors"]


@engine_db
def test_a_plan_summary_per_atom_filters_by_status_retries_and_cost(
    imported, stub_server, run_jobs, api_client_for, viewer
):
    stub_server.configure(atom_texts={"fold_accents": ["No code, only prose."]})
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    client = api_client_for(viewer)
    url = f"/api/v2/traceability/masterplan/{masterplan.pk}"

    body = client.get(url).json()
    assert body["count"] == masterplan.atoms.count()
    rows = {row["name"]: row for row in body["results"]}
    assert rows["fold_accents"]["total_retries"] == 1 and rows["fold_accents"]["executions"] == 1
    total = sum(Decimal(row["cost_usd"]) for row in rows.values())
    assert total == CostEntry.objects.filter(masterplan=masterplan).total()

    retried = client.get(url, {"min_retries": 1}).json()["results"]
    assert [row["name"] for row in retried] == ["fold_accents"]
    assert client.get(url, {"status": "failed"}).json()["count"] == 0
    dearest = max(Decimal(row["cost_usd"]) for row in rows.values())
    assert client.get(url, {"min_cost_usd": str(dearest)}).json()["count"] >= 1
    bad = client.get(url, {"min_retries": "-1", "status": "exploded"})
    assert bad.status_code == 400 and {"min_retries", "status"} <= set(bad.json()["errors"])
    assert client.get(f"/api/v2/traceability/masterplan/{uuid.uuid4()}").status_code == 404


@engine_db
def test_the_trace_page_shows_the_timeline_prompts_and_retries_in_constant_queries(
    imported, stub_server, run_jobs, client, viewer
):
    stub_server.configure(
        atom_texts={"fold_accents": ["No code, only prose.", "```python\ndef (:\n```"]}
    )
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    fold = Atom.objects.get(masterplan=masterplan, name="fold_accents")
    assert AtomExecutionTrace.objects.get(atom=fold).llm_calls == 3
    client.force_login(viewer)
    client.get("/")  # the viewer's permissions read once, then kept (mge_site/auth_backend.py)

    once = Atom.objects.get(masterplan=masterplan, name="split_words")
    queries = {}
    for atom in (once, fold):
        with CaptureQueriesContext(connection) as captured:
            page = client.get(f"/atoms/{atom.pk}/trace/").content.decode()
        queries[atom.name] = len(captured)
    assert queries["fold_accents"] == queries["split_words"] <= 12
    assert page.count('class="bar llm"') + page.count('class="bar refused"') >= 3
    assert page.count('<details class="call"') == 3
    assert "the answer has no code block" in page  # the error fed back, in the retries
    assert "does not parse" in page
    detail = client.get(f"/masterplans/{masterplan.pk}/").content.decode()
    assert f"/atoms/{fold.pk}/trace/" in detail
    assert client.get(f"/atoms/{fold.pk}/trace/?execution=9").status_code == 404
