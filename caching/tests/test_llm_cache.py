"""The exact LLM response cache on real Redis, through the real SDK to the loopback stub."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from redis import Redis

from budget.models import CostEntry
from caching import counters, llm_cache
from conftest import engine_db
from execution.llm import gateway
from execution.llm.types import LLMRequest
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan
from mge_site.redis_connection import get_redis


def request_for(masterplan_id: str | None, **changes: object) -> LLMRequest:
    request = LLMRequest(
        model="claude-haiku-4-5", system="You answer briefly.", max_tokens=64,
        messages=[{"role": "user", "content": "Say hi."}], masterplan_id=masterplan_id,
    )  # fmt: skip
    return dataclasses.replace(request, **changes)  # type: ignore[arg-type]


@pytest.fixture
def plan_id(imported) -> str:  # type: ignore[no-untyped-def]
    return str(imported("slugkit").pk)


@pytest.mark.django_db
def test_a_repeated_call_is_answered_from_the_cache_at_no_cost(stub_server, plan_id):
    first = gateway.complete(request_for(plan_id))
    again = gateway.complete(request_for(plan_id))
    assert stub_server.stats.requests == 1  # the second never reached the provider
    assert again.text == first.text and again.cache_hit and not first.cache_hit
    assert first.cost_usd and first.cost_usd > 0 and again.cost_usd == 0
    paid, hit = CostEntry.objects.filter(masterplan_id=plan_id).order_by("created_at")
    assert (paid.cache_hit, paid.cost_usd) == (False, first.cost_usd)
    assert (hit.cache_hit, hit.cost_usd, hit.saved_usd) == (True, 0, first.cost_usd)
    assert hit.input_tokens == hit.output_tokens == 0  # nothing was billed
    figures = counters.stats(llm_cache.KIND, plan_id)
    assert (figures["hits"], figures["misses"], figures["hit_rate"]) == (1, 1, 0.5)
    assert Decimal(figures["saved_usd"]) == first.cost_usd


def test_the_key_is_the_same_only_for_requests_that_must_get_the_same_answer():
    key = llm_cache.cache_key
    base = request_for(None)
    reordered = request_for(None, messages=[{"content": "Say hi.", "role": "user"}])
    assert key(base, "anthropic") == key(reordered, "anthropic")  # dict order is irrelevant
    assert key(base, "anthropic") == key(request_for("another plan"), "anthropic")
    different = [
        request_for(None, messages=[{"role": "user", "content": "Say hi. "}]),  # whitespace
        request_for(None, system="You answer at length."),
        request_for(None, model="claude-sonnet-4-6"),
        request_for(None, max_tokens=65),
        request_for(None, template_version="atom/2"),
    ]
    keys = {key(request, "anthropic") for request in different}
    assert len(keys) == len(different) and key(base, "anthropic") not in keys
    assert key(base, "offline") != key(base, "anthropic")


def test_a_stub_or_proxy_does_not_answer_for_the_real_api(settings):
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:8765"
    from_the_stub = llm_cache.cache_key(request_for(None), "anthropic")
    settings.ANTHROPIC_BASE_URL = None
    assert llm_cache.cache_key(request_for(None), "anthropic") != from_the_stub


def test_a_new_namespace_starts_from_an_empty_cache(settings):
    before = llm_cache.cache_key(request_for(None), "anthropic")
    settings.MGE_LLM_CACHE_NAMESPACE = "after-the-prompt-rewrite"
    assert llm_cache.cache_key(request_for(None), "anthropic") != before


@pytest.mark.django_db
def test_every_key_the_cache_writes_expires(stub_server, plan_id, settings):
    settings.MGE_LLM_CACHE_TTL_SECONDS = 600
    gateway.complete(request_for(plan_id))
    gateway.complete(request_for(plan_id))
    client = get_redis()
    keys = [key.decode() for key in client.scan_iter(f"{llm_cache.PREFIX}:*")]
    keys.append(counters.plan_key(llm_cache.KIND, plan_id))
    assert len(keys) >= 3  # the answer, the plan's index, the plan's counters
    for name in keys:
        ttl = client.ttl(name)
        assert 0 < ttl <= 600, (name, ttl)


@pytest.mark.django_db
def test_invalidating_a_plan_drops_its_answers(stub_server, plan_id):
    gateway.complete(request_for(plan_id))
    assert llm_cache.invalidate_masterplan(plan_id) == 1
    gateway.complete(request_for(plan_id))
    assert stub_server.stats.requests == 2


@pytest.mark.django_db
def test_no_cache_asks_the_model_and_keeps_the_answer_no_store_does_neither(stub_server, plan_id):
    gateway.complete(request_for(plan_id))
    regenerated = gateway.complete(request_for(plan_id, cache="no-cache"))
    assert not regenerated.cache_hit and stub_server.stats.requests == 2
    assert gateway.complete(request_for(plan_id)).cache_hit
    private = request_for(plan_id, messages=[{"role": "user", "content": "Say bye."}])
    gateway.complete(dataclasses.replace(private, cache="no-store"))
    gateway.complete(private)
    assert stub_server.stats.requests == 4  # the no-store answer was not kept


@pytest.mark.django_db
def test_the_switch_turns_the_cache_off(stub_server, plan_id, settings):
    settings.MGE_LLM_CACHE = "off"
    gateway.complete(request_for(plan_id))
    assert not gateway.complete(request_for(plan_id)).cache_hit
    assert stub_server.stats.requests == 2
    assert not list(get_redis().scan_iter(f"{llm_cache.PREFIX}:*"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "corrupt", [b"not json", b'{"text": "half', b'{"text": 1, "model": "m"}', b"{}"]
)
def test_an_entry_that_does_not_read_back_is_a_miss_and_is_rewritten(stub_server, plan_id, corrupt):
    first = gateway.complete(request_for(plan_id))
    key = llm_cache.cache_key(request_for(plan_id), "anthropic")
    get_redis().set(key, corrupt, ex=60)
    again = gateway.complete(request_for(plan_id))
    assert not again.cache_hit and again.text == first.text
    assert stub_server.stats.requests == 2
    assert gateway.complete(request_for(plan_id)).cache_hit  # rewritten by the miss


@pytest.mark.django_db
def test_an_answer_larger_than_the_limit_is_not_kept(stub_server, plan_id, settings):
    settings.MGE_LLM_CACHE_MAX_BYTES = 1024
    stub_server.configure(atom_texts={"": ["x" * 4000]})
    gateway.complete(request_for(plan_id))
    gateway.complete(request_for(plan_id))
    assert stub_server.stats.requests == 2
    assert counters.stats(llm_cache.KIND)["too_large"] >= 1


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung Redis."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.mark.django_db
@pytest.mark.parametrize("redis_is", ["down", "hung"])
def test_a_cache_that_does_not_answer_never_fails_the_call(
    stub_server, plan_id, settings, monkeypatch, silent_server, redis_is
):
    port = 1 if redis_is == "down" else silent_server
    settings.MGE_LLM_CACHE_TIMEOUT_MS = 50
    broken = Redis(host="127.0.0.1", port=port, socket_timeout=0.05, socket_connect_timeout=0.05)
    for module in (llm_cache, counters):
        monkeypatch.setattr(module, "cache_redis", lambda: broken)
    first = gateway.complete(request_for(plan_id))
    again = gateway.complete(request_for(plan_id))
    assert first.text and again.text == first.text and not again.cache_hit
    assert stub_server.stats.requests == 2


@engine_db
def test_a_second_run_of_the_same_plan_pays_nothing_for_unchanged_atoms(
    imported, stub_server, run_jobs
):
    first = imported("slugkit")
    start_masterplan(first.pk)
    run_jobs()
    calls = stub_server.stats.requests
    second = imported("slugkit")
    start_masterplan(second.pk)
    run_jobs()
    second.refresh_from_db()
    assert second.status == MasterPlan.Status.COMPLETED, second.status_reason
    assert stub_server.stats.requests == calls  # every atom's prompt was already answered
    entries = CostEntry.objects.filter(masterplan=second)
    assert entries.count() == second.atoms.count()
    assert all(entry.cache_hit and entry.cost_usd == 0 for entry in entries)
    assert sum(entry.saved_usd for entry in entries) > 0
    codes = dict(first.atoms.values_list("name", "generated_code"))
    for atom in second.atoms.all():
        assert atom.status == Atom.Status.COMPLETED and atom.generated_code == codes[atom.name]


@pytest.mark.django_db
def test_the_stats_endpoint_and_the_metrics_show_hits_misses_and_the_cost_saved(
    stub_server, plan_id, api_client_for, viewer, client
):
    first = gateway.complete(request_for(plan_id))
    gateway.complete(request_for(plan_id))
    api = api_client_for(viewer)
    overall = api.get("/api/v2/caching/stats").json()["kinds"]["llm_response"]
    assert (overall["hits"], overall["misses"], overall["hit_rate"]) == (1, 1, 0.5)
    one = api.get(f"/api/v2/caching/stats?masterplan={plan_id}").json()
    assert Decimal(one["kinds"]["llm_response"]["saved_usd"]) == first.cost_usd
    assert api.get("/api/v2/caching/stats?masterplan=nope").status_code == 400
    unknown = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/api/v2/caching/stats?masterplan={unknown}").status_code == 404
    metrics = client.get("/metrics").content.decode()
    assert "llm_cache_hits_total 1.0" in metrics and "llm_cache_misses_total 1.0" in metrics
    assert "v2_cache_hit_rate 0.5" in metrics


@pytest.mark.django_db
def test_regenerating_the_acceptance_tests_really_asks_the_model(stub_server, imported):
    from acceptance.generator import generate_tests

    masterplan = imported("slugkit")
    generate_tests(masterplan.pk)
    asked = stub_server.stats.requests
    assert asked >= masterplan.requirements.count()
    generate_tests(masterplan.pk)  # a regeneration: every test again, from the model
    assert stub_server.stats.requests == 2 * asked
    assert counters.stats(llm_cache.KIND, str(masterplan.pk))["hits"] == 0
