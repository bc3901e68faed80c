"""The cache analytics as a user meets them: the endpoints, the /caching/ page and the
metrics, on real Redis and PostgreSQL (the LLM calls through the real SDK to the stub)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from redis import Redis

from caching import counters, llm_cache
from caching.snapshots import take_snapshots
from execution.llm import gateway
from execution.llm.types import LLMRequest

pytestmark = pytest.mark.django_db
UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def plan(imported):
    return imported("slugkit")


def ask(plan, atom, times: int) -> None:  # type: ignore[no-untyped-def]
    request = LLMRequest(
        model="claude-haiku-4-5", system="You write code.", max_tokens=64,
        messages=[{"role": "user", "content": f"Masterplan: {plan.name}\nAtom: {atom.name}\n"}],
        masterplan_id=str(plan.pk), atom_id=str(atom.pk),
    )  # fmt: skip
    for _ in range(times):
        gateway.complete(request)


@pytest.fixture
def asked(stub_server, plan):
    """Two atoms' calls: the first asked three times (two hits), the second twice."""
    first, second = plan.atoms.order_by("source_line")[:2]
    ask(plan, first, 3)
    ask(plan, second, 2)
    return first, second


@pytest.fixture
def snapshots(plan):
    """Three minutes of snapshots: 1 hit of 2 requests, then 3 hits of 4."""
    now = dt.datetime.now(dt.UTC)
    take_snapshots(now - dt.timedelta(minutes=3))
    counters.count("llm_response", str(plan.pk), hits=1, misses=1, saved_micros=250_000)
    take_snapshots(now - dt.timedelta(minutes=2))
    counters.count("llm_response", str(plan.pk), hits=3, misses=1, saved_micros=750_000)
    counters.count("retrieval", str(plan.pk), hits=1, misses=1)
    take_snapshots(now - dt.timedelta(minutes=1))


@pytest.fixture
def redis_down(monkeypatch):
    broken = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.05)
    monkeypatch.setattr(counters, "cache_redis", lambda: broken)


def test_the_top_keys_are_ranked_by_hits_with_what_they_were_for(asked, plan):
    first, second = asked
    top = counters.top_keys("llm_response", str(plan.pk))
    assert [entry["hits"] for entry in top] == [2, 1]
    label = top[0]["label"]
    assert label == {"purpose": "atom", "model": "claude-haiku-4-5", "atom_id": str(first.pk),
                     "prompt": f"Atom: {first.name}"}  # fmt: skip
    assert top[1]["label"]["atom_id"] == str(second.pk)
    assert top[0]["key"].startswith(llm_cache.PREFIX)
    assert counters.top_keys("llm_response") == top  # overall: the same calls
    assert counters.top_keys("retrieval") == []


def test_the_top_keys_stay_bounded_and_expire(settings, plan):
    settings.MGE_LLM_CACHE_TTL_SECONDS = 600
    for number in range(counters.TOP_KEYS_KEPT + 5):
        counters.hit("retrieval", None, f"key-{number}")
    counters.hit("retrieval", None, "key-7")
    ranking = counters.top_key("retrieval", None)
    client = counters.cache_redis()
    assert client.zcard(ranking) == counters.TOP_KEYS_KEPT
    assert 0 < client.ttl(ranking) <= 600
    assert counters.top_keys("retrieval", limit=1)[0] == {"key": "key-7", "hits": 2, "label": {}}


def test_the_endpoints_answer_figures_series_and_top_keys(
    asked, snapshots, plan, api_client_for, viewer
):
    api = api_client_for(viewer)
    stats = api.get(f"/api/v2/caching/stats?masterplan={plan.pk}").json()["kinds"]
    assert set(stats) == {"llm_response", "retrieval", "combined"}

    body = api.get(f"/api/v2/caching/series?masterplan={plan.pk}").json()
    assert body["masterplan_id"] == str(plan.pk)
    llm = body["kinds"]["llm_response"]
    assert [(i["hits"], i["misses"], i["hit_rate"]) for i in llm] == [(1, 1, 0.5), (3, 1, 0.75)]
    assert [Decimal(i["saved_usd"]) for i in llm] == [Decimal("0.25"), Decimal("0.75")]
    assert [(i["hits"], i["misses"]) for i in body["kinds"]["combined"]] == [(1, 1), (4, 2)]
    only = api.get("/api/v2/caching/series?kind=retrieval&hours=1").json()["kinds"]
    assert list(only) == ["retrieval"]

    top = api.get(f"/api/v2/caching/top-keys?masterplan={plan.pk}&kind=llm_response&limit=1")
    assert top.status_code == 200
    (entry,) = top.json()["kinds"]["llm_response"]
    assert entry["hits"] == 2 and entry["label"]["purpose"] == "atom"


@pytest.mark.parametrize(
    ("path", "field", "says"),
    [
        ("/api/v2/caching/series?kind=semantic", "kind", "llm_response, retrieval, combined"),
        ("/api/v2/caching/series?hours=0", "hours", "greater than or equal to 1"),
        ("/api/v2/caching/series?hours=169", "hours", "less than or equal to 168"),
        ("/api/v2/caching/top-keys?kind=combined", "kind", "llm_response, retrieval"),
        ("/api/v2/caching/top-keys?limit=101", "limit", "less than or equal to 100"),
        ("/api/v2/caching/top-keys?masterplan=nope", "masterplan", "UUID"),
        ("/api/v2/caching/stats?masterplan=", "masterplan", "give a value"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it_and_what_is_allowed(
    api_client_for, viewer, path, field, says
):
    response = api_client_for(viewer).get(path)
    assert response.status_code == 400
    assert says in " ".join(response.json()["errors"][field])


@pytest.mark.parametrize("endpoint", ["stats", "series", "top-keys"])
def test_an_unknown_plan_is_a_404_naming_it(api_client_for, viewer, endpoint):
    response = api_client_for(viewer).get(f"/api/v2/caching/{endpoint}?masterplan={UNKNOWN}")
    assert response.status_code == 404
    assert UNKNOWN in response.json()["detail"]


@pytest.mark.parametrize("endpoint", ["stats", "top-keys"])
def test_redis_down_is_a_503_saying_so(api_client_for, viewer, redis_down, endpoint):
    response = api_client_for(viewer).get(f"/api/v2/caching/{endpoint}")
    assert response.status_code == 503
    assert "the cache (Redis) is not reachable" in response.json()["detail"]


def test_the_page_shows_the_figures_the_chart_and_the_top_keys(
    asked, snapshots, plan, client, viewer
):
    client.force_login(viewer)
    page = client.get(f"/caching/?masterplan={plan.pk}").content.decode()
    row = re.search(r'<tr class="kind-llm_response".*?</tr>', page, re.S)
    assert row, page
    # three calls answered from the cache, two by the provider, and the snapshots' 4 and 2
    assert "<td>7</td><td>4</td>" in row[0] and "<td>64 %</td>" in row[0]
    assert "$1.00" in row[0]  # the fixture's $1 and what the stub's answers cost
    assert re.search(r'<polyline class="series cache-llm_response"[^>]*points="[\d., ]+"', page)
    assert 'class="series cache-combined"' in page and "all caches" in page
    assert "cache hit rate per interval (%)" in page and "time (UTC)" in page
    first, _second = asked
    assert f"<strong>{first.name}</strong>" in page and f"Atom: {first.name}" in page
    assert "Download the data (CSV)" in page and 'id="table-cache-hit-rate"' in page

    csv = client.get(f"/caching/?masterplan={plan.pk}&csv=1")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0] == "kind,start_utc,end_utc,hits,misses,hit_rate,saved_usd"
    assert any(line.startswith("llm_response,") and ",3,1,0.75," in line for line in lines)


def test_the_page_says_plainly_when_there_are_no_snapshots_yet(client, viewer):
    client.force_login(viewer)
    page = client.get("/caching/").content.decode()
    assert "No snapshots yet" in page and "<polyline" not in page
    assert "No hits yet." in page


def test_the_page_refreshes_its_figures_and_reports_redis_down(client, viewer, redis_down):
    client.force_login(viewer)
    live = client.get("/caching/?range=1h", headers={"HX-Request": "true"}).content.decode()
    assert live.lstrip().startswith('<div id="cache-live" hx-get="/caching/?range=1h"')
    assert "does not answer" in live and "<html" not in live


def test_bad_page_parameters_are_refused(client, viewer):
    client.force_login(viewer)
    assert client.get("/caching/?range=1y").status_code == 400
    assert client.get(f"/caching/?masterplan={UNKNOWN}").status_code == 404
    assert client.get("/caching/?masterplan=nope").status_code == 404


def test_the_menu_and_the_plan_page_lead_to_the_cache_page(client, viewer, plan):
    client.force_login(viewer)
    page = client.get(f"/masterplans/{plan.pk}/").content.decode()
    assert 'href="/caching/"' in page
    assert f'href="/caching/?masterplan={plan.pk}"' in page
