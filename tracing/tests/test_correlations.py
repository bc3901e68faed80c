"""The correlation endpoint's figures against a hand computation on a fixture of traces
written row by row: known starts, retries, answers, validations and acceptance results."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from acceptance.models import AcceptanceTest, TestResult, TestRun
from execution.models import Atom, AtomDependency, MasterPlan
from tracing.correlations import bucket_for, correlation
from tracing.models import AtomExecutionTrace, TraceEvent

T0 = dt.datetime(2025, 1, 1, 12, 0, 0, tzinfo=dt.UTC)

MISS = ("llm_call", {"cache_hit": False, "cost_usd": "0.001", "prompt": "p" * 5000})
HIT = ("llm_call", {"cache_hit": True, "cost_usd": "0"})
FAILED_CALL = ("llm_call", {"error": "overloaded", "status_code": 529})
PASS = ("validation", {"level": 1, "passed": True})
FAIL = ("validation", {"level": 1, "passed": False})
RETRY = ("retry", {"reason": "validation"})
PROVIDER_RETRY = ("provider_retry", {"retry": 1})

Event = tuple[float, tuple[str, dict[str, Any]]]
"""Seconds after T0, and the event's kind and data."""


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def write_trace(
    masterplan: MasterPlan,
    atom: Atom | None,
    *,
    execution: int = 1,
    start: float,
    end: float | None,
    status: str,
    retries: int = 0,
    events: list[Event],
    requirement: Any = None,
) -> AtomExecutionTrace:
    """A trace with its `started` event (an atom's), `events`, and its end event."""
    trace = AtomExecutionTrace.objects.create(
        masterplan=masterplan,
        scope="atom" if atom else "requirement",
        atom=atom,
        wave=atom.wave if atom else None,
        requirement=requirement,
        execution=execution,
        status=status,
        total_retries=retries,
        started_at=at(start),
        finished_at=None if end is None else at(end),
    )
    timed: list[Event] = [(start, ("started", {}))] if atom else []
    timed += events
    if end is not None:
        timed.append((end, (status, {})))
    TraceEvent.objects.bulk_create(
        TraceEvent(
            trace=trace,
            seq=seq,
            kind=kind,
            at=at(moment),
            data=data,
            offset_ms=(moment - start) * 1000,
        )
        for seq, (moment, (kind, data)) in enumerate(timed, start=1)
    )
    return trace


def accept(masterplan: MasterPlan, number: int, code: str, outcomes: list[str]) -> None:
    """Acceptance test `number` with one run per outcome, in order (the last is latest)."""
    requirement = masterplan.requirements.get(position=number)
    test = AcceptanceTest.objects.create(
        masterplan=masterplan, requirement=requirement, framework="pytest",
        file_path=f"tests/acceptance/test_r{number:02d}.py", code=code, generated_by="llm",
    )  # fmt: skip
    for index, outcome in enumerate(outcomes):
        run = TestRun.objects.create(
            masterplan=masterplan, status="finished", started_at=at(200 + 10 * index)
        )
        TestResult.objects.create(run=run, test=test, status=outcome)


@pytest.fixture
def traced(imported):
    """slugkit with six atom executions (one still running), a requirement's generation and
    four acceptance tests; the hand computations are in the tests below."""
    masterplan = imported("slugkit")
    atoms = {atom.name: atom for atom in masterplan.atoms.select_related("wave")}
    Atom.objects.filter(pk=atoms["unique_slugger"].pk).update(complexity="high")
    Atom.objects.filter(pk=atoms["package_init"].pk).update(language="typescript")
    AcceptanceTest.objects.filter(masterplan=masterplan).delete()
    # Every test imports the package (slugkit/__init__.py runs first): without its edges it
    # reaches package_init alone, not every atom.
    AtomDependency.objects.filter(atom=atoms["package_init"]).delete()

    write_trace(masterplan, atoms["fold_accents"], start=0, end=3, status="completed",
                events=[(0.5, MISS), (0.6, PASS)])  # fmt: skip
    write_trace(masterplan, atoms["split_words"], start=1, end=63, status="completed", retries=2,
                events=[(1.5, MISS), (1.6, FAIL), (1.7, RETRY), (30, FAILED_CALL),
                        (31, PROVIDER_RETRY), (62, HIT), (62.1, PASS)])  # fmt: skip
    write_trace(masterplan, atoms["truncate_slug"], start=2, end=10, status="failed", retries=2,
                events=[(5, HIT), (5.1, FAIL), (5.2, RETRY), (8, MISS), (8.1, FAIL),
                        (8.2, RETRY), (9, MISS)])  # fmt: skip
    write_trace(masterplan, atoms["truncate_slug"], execution=2, start=120, end=131,
                status="completed", events=[(125, HIT), (125.1, PASS)])  # fmt: skip
    write_trace(masterplan, atoms["slugify"], start=64, end=None, status="running", retries=1,
                events=[(65, PROVIDER_RETRY)])  # fmt: skip
    write_trace(masterplan, atoms["unique_slugger"], start=70, end=80, status="completed",
                retries=3, events=[(71, MISS), (71.1, FAIL), (71.2, RETRY), (73, MISS),
                                   (73.1, FAIL), (73.2, RETRY), (74, PROVIDER_RETRY), (75, MISS),
                                   (75.1, PASS)])  # fmt: skip
    write_trace(masterplan, None, requirement=masterplan.requirements.get(position=1),
                start=128, end=131, status="completed", events=[(130, HIT)])  # fmt: skip

    accept(
        masterplan,
        1,
        "from slugkit.slugify import slugify\nfrom slugkit.folding import fold_accents\n",
        ["failed", "passed"],
    )
    accept(masterplan, 2, "from slugkit.truncate import truncate_slug\n", ["failed"])
    accept(masterplan, 3, "from slugkit.unique import UniqueSlugger\n", ["passed"])
    accept(masterplan, 4, "from slugkit.words import split_words\n", [])  # never run
    return masterplan


def get(client: Any, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


def test_scatter_has_one_point_per_execution_and_the_hand_computed_counts(
    traced, viewer, api_client_for
):
    data = get(api_client_for(viewer), f"/api/v2/traceability/masterplan/{traced.pk}/correlation")
    assert data["masterplan"] == str(traced.pk)
    scatter = data["scatter"]
    points = sorted((p["atom_name"], p["execution"], p["x"], p["retries"])
                    for p in scatter["points"])  # fmt: skip
    assert points == [
        ("fold_accents", 1, 0, 0), ("slugify", 1, 1, 1), ("split_words", 1, 0, 2),
        ("truncate_slug", 1, 1, 2), ("truncate_slug", 2, 1, 0), ("unique_slugger", 1, 2, 3),
    ]  # fmt: skip
    assert [(c["complexity"], c["retries"], c["executions"]) for c in scatter["counts"]] == [
        ("low", 0, 1), ("low", 2, 1), ("medium", 0, 1), ("medium", 1, 1), ("medium", 2, 1),
        ("high", 3, 1),
    ]  # fmt: skip
    assert [(row["complexity"], row["executions"], row["mean_retries"])
            for row in scatter["by_complexity"]] == [
        ("low", 2, 1.0), ("medium", 3, 1.0), ("high", 1, 3.0)
    ]  # fmt: skip
    # x = 0 0 1 1 1 2, y = 0 2 2 0 1 3: covariance sum 7/3, spreads 17/6 and 22/3.
    assert scatter["pearson_r"] == pytest.approx((7 / 3) / math.sqrt(17 / 6 * 22 / 3))


def test_hit_rate_counts_answered_calls_per_minute_and_cumulates(traced, viewer, api_client_for):
    data = get(api_client_for(viewer), f"/api/v2/traceability/masterplan/{traced.pk}/correlation")
    hit_rate = data["hit_rate"]
    # The calls span 0.5 s → 130 s: over 120 seconds, so per minute. The failed call (30 s)
    # is neither a hit nor a miss; the requirement's generation (130 s) counts.
    assert (hit_rate["bucket"], hit_rate["bucket_seconds"]) == ("minute", 60)
    assert [(b["start"], b["calls"], b["hits"], b["rate"]) for b in hit_rate["buckets"]] == [
        ("2025-01-01T12:00:00Z", 5, 1, 1 / 5),
        ("2025-01-01T12:01:00Z", 4, 1, 1 / 4),
        ("2025-01-01T12:02:00Z", 2, 2, 1.0),
    ]
    cumulative = [(b["cumulative_calls"], b["cumulative_hits"], b["cumulative_rate"])
                  for b in hit_rate["buckets"]]  # fmt: skip
    assert cumulative == [(5, 1, 1 / 5), (9, 2, 2 / 9), (11, 4, 4 / 11)]
    assert (hit_rate["calls"], hit_rate["hits"], hit_rate["rate"]) == (11, 4, 4 / 11)


def test_bucket_is_the_finest_that_keeps_the_span_under_120_buckets():
    assert bucket_for(0) == ("second", 1)
    assert bucket_for(119.9) == ("second", 1)
    assert bucket_for(120) == ("minute", 60)
    assert bucket_for(3 * 3600) == ("hour", 3600)
    assert bucket_for(30 * 86400) == ("day", 86400)
    assert bucket_for(400 * 86400) == ("day", 86400)


def test_heatmap_cells_are_the_hand_computed_l1_and_acceptance_rates(
    traced, viewer, api_client_for
):
    data = get(api_client_for(viewer), f"/api/v2/traceability/masterplan/{traced.pk}/correlation")
    heatmap = data["heatmap"]
    assert heatmap["languages"] == ["python", "typescript"]
    assert heatmap["tasks"] == ["Character folding", "Slug function", "Collision handling"]
    cells = {(cell["language"], cell["task"]): cell for cell in heatmap["cells"]}
    assert set(cells) == {
        ("python", "Character folding"), ("python", "Slug function"),
        ("python", "Collision handling"), ("typescript", "Collision handling"),
    }  # fmt: skip
    figures = (
        "atoms", "executions", "validations", "validations_passed", "l1_pass_rate",
        "answered_executions", "first_try_passed", "first_try_rate", "acceptance_atoms",
        "acceptance_passed", "acceptance_rate",
    )  # fmt: skip

    def row(key: tuple[str, str]) -> tuple[Any, ...]:
        return tuple(cells[key][name] for name in figures)

    # Tests run: 1 (latest passed) slugify, fold_accents and, through slugify's dependencies,
    # split_words; 2 (failed) truncate_slug; 3 (passed) unique_slugger and, through it,
    # slugify, fold_accents, split_words; each also package_init. 4 never ran.
    # fold_accents: 1 of 1 validations, first answer passed; split_words: 1 of 2, retried.
    assert row(("python", "Character folding")) == (2, 2, 3, 2, 2 / 3, 2, 1, 1 / 2, 2, 2, 1.0)
    # truncate_slug #1 0 of 2 (and an unparsable third answer), #2 1 of 1 at once; slugify
    # still running, no answer yet. Acceptance: slugify passed, truncate_slug failed.
    assert row(("python", "Slug function")) == (2, 3, 3, 1, 1 / 3, 2, 1, 1 / 2, 2, 1, 1 / 2)
    # unique_slugger: 1 of 3, after two retries; test 3 passed.
    assert row(("python", "Collision handling")) == (1, 1, 3, 1, 1 / 3, 1, 0, 0.0, 1, 1, 1.0)
    # package_init never ran; every test runs slugkit/__init__.py, and test 2 failed.
    assert row(("typescript", "Collision handling")) == (
        1, 0, 0, 0, None, 0, 0, None, 1, 0, 0.0
    )  # fmt: skip


def test_timeline_places_each_wave_from_the_plans_first_execution(traced, viewer, api_client_for):
    data = get(api_client_for(viewer), f"/api/v2/traceability/masterplan/{traced.pk}/correlation")
    waves = data["timeline"]
    assert [(w["wave"], w["start_s"], w["end_s"]) for w in waves] == [
        (1, 0.0, 131.0), (2, 64.0, None), (3, 70.0, 80.0)
    ]  # fmt: skip
    assert sorted((e["atom_name"], e["execution"], e["start_s"], e["end_s"], e["status"])
                  for e in waves[0]["executions"]) == [
        ("fold_accents", 1, 0.0, 3.0, "completed"), ("split_words", 1, 1.0, 63.0, "completed"),
        ("truncate_slug", 1, 2.0, 10.0, "failed"), ("truncate_slug", 2, 120.0, 131.0, "completed"),
    ]  # fmt: skip
    assert waves[0]["events"] == {
        "completed": 3, "failed": 1, "llm_call": 8, "provider_retry": 1, "retry": 3,
        "started": 4, "validation": 6,
    }  # fmt: skip
    assert waves[1]["events"] == {"provider_retry": 1, "started": 1}
    assert waves[2]["events"] == {
        "completed": 1, "llm_call": 3, "provider_retry": 1, "retry": 2, "started": 1,
        "validation": 3,
    }  # fmt: skip


def test_across_all_plans_tasks_of_one_name_share_a_cell(traced, imported, viewer, api_client_for):
    imported("slugkit")  # a second plan, never run
    data = get(api_client_for(viewer), "/api/v2/traceability/correlation")
    assert data["masterplan"] is None
    cells = {(cell["language"], cell["task"]): cell for cell in data["heatmap"]["cells"]}
    folding = cells["python", "Character folding"]
    assert (folding["atoms"], folding["executions"], folding["acceptance_atoms"]) == (4, 2, 2)
    # The other plan has no traces, so the rest is this plan's.
    assert len(data["scatter"]["points"]) == 6
    assert data["hit_rate"]["calls"] == 11
    assert [wave["wave"] for wave in data["timeline"]] == [1, 2, 3]


def test_an_unknown_masterplan_is_a_404_naming_it(viewer, api_client_for):
    missing = "8d6a52b4-5a0e-4d6b-9a55-0d1f6f0c0a11"
    response = api_client_for(viewer).get(f"/api/v2/traceability/masterplan/{missing}/correlation")
    assert response.status_code == 404
    assert missing in response.json()["detail"]


def test_the_endpoints_need_the_view_permission(traced, nobody, api_client_for):
    client = api_client_for(nobody)
    assert client.get(f"/api/v2/traceability/masterplan/{traced.pk}/correlation").status_code == 403
    assert client.get("/api/v2/traceability/correlation").status_code == 403


def test_the_figures_take_a_constant_number_of_queries(traced, imported):
    with CaptureQueriesContext(connection) as one_plan:
        correlation(traced)
    other = imported("slugkit")
    for atom in other.atoms.all():
        write_trace(other, atom, start=0, end=1, status="completed",
                    events=[(0.5, MISS), (0.6, PASS)])  # fmt: skip
    with CaptureQueriesContext(connection) as two_plans:
        correlation(None)
    # traces, atoms, the calls' span, the calls per bucket, acceptance tests, dependencies,
    # events per wave
    assert len(one_plan) == len(two_plans) == 7


def test_an_empty_plan_has_empty_panels(imported):
    data = correlation(imported("slugkit"))
    assert data.scatter.points == [] and data.scatter.pearson_r is None
    assert data.hit_rate.buckets == [] and data.hit_rate.rate is None
    assert data.timeline == []
    assert all(cell.l1_pass_rate is None for cell in data.heatmap.cells)


# --- the page and its CSV downloads -----------------------------------------------------


def read_csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_each_panels_csv_is_an_attachment_with_its_figures(traced, viewer, client):
    client.force_login(viewer)
    url = f"/masterplans/{traced.pk}/traces/"
    scatter = client.get(url, {"csv": "scatter"})
    assert scatter["Content-Type"].startswith("text/csv")
    assert scatter["Content-Disposition"] == 'attachment; filename="traces-slugkit-scatter.csv"'
    rows = read_csv(scatter)
    assert rows[0] == ["masterplan", "atom", "atom_name", "execution", "complexity",
                       "complexity_position", "retries"]  # fmt: skip
    assert sorted((row[2], row[3], row[4], row[6]) for row in rows[1:]) == [
        ("fold_accents", "1", "low", "0"), ("slugify", "1", "medium", "1"),
        ("split_words", "1", "low", "2"), ("truncate_slug", "1", "medium", "2"),
        ("truncate_slug", "2", "medium", "0"), ("unique_slugger", "1", "high", "3"),
    ]  # fmt: skip

    hit_rate = read_csv(client.get(url, {"csv": "hit_rate"}))
    assert [row[:4] for row in hit_rate[1:]] == [
        ["2025-01-01T12:00:00+00:00", "minute", "5", "1"],
        ["2025-01-01T12:01:00+00:00", "minute", "4", "1"],
        ["2025-01-01T12:02:00+00:00", "minute", "2", "2"],
    ]
    assert float(hit_rate[-1][7]) == pytest.approx(4 / 11)

    heatmap = read_csv(client.get(url, {"csv": "heatmap"}))
    typescript = next(row for row in heatmap if row[0] == "typescript")
    assert typescript == ["typescript", "Collision handling", "1", "0", "0", "0", "", "0", "0",
                          "", "1", "0", "0.0"]  # fmt: skip

    timeline = read_csv(client.get(url, {"csv": "timeline"}))
    running = next(row for row in timeline if row[3] == "slugify")
    assert (running[0], running[5], running[6], running[7]) == ("2", "running", "64.0", "")

    every_plan = client.get("/traces/", {"csv": "timeline"})
    assert every_plan["Content-Disposition"] == 'attachment; filename="traces-all-timeline.csv"'
    assert client.get(url, {"csv": "pie"}).status_code == 404


def test_the_dashboard_draws_four_charts_with_their_tables(traced, viewer, client):
    client.force_login(viewer)
    page = client.get(f"/masterplans/{traced.pk}/traces/").content.decode()
    for panel in ("scatter", "hit-rate", "heatmap", "waves-timeline"):
        assert f'class="chart correlation {panel}"' in page
    assert page.count('<circle class="bubble"') == 6
    assert page.count('<rect class="run ') == 6
    assert page.count('<rect class="heat ') == 8  # four cells, two halves each
    assert 'href="?csv=heatmap"' in page and 'id="table-timeline"' in page
    assert "No traces yet" not in page
    detail = client.get(f"/masterplans/{traced.pk}/").content.decode()
    assert f'href="/masterplans/{traced.pk}/traces/"' in detail


def test_a_plan_that_never_ran_says_no_traces_yet(imported, viewer, client):
    masterplan = imported("slugkit")
    AcceptanceTest.objects.filter(masterplan=masterplan).delete()
    client.force_login(viewer)
    page = client.get(f"/masterplans/{masterplan.pk}/traces/").content.decode()
    assert page.count("No traces yet") == 4
    assert "<svg" not in page.split("<main>")[1]
