"""The gateway's chain: its order, and what each guard costs a call that does not need it."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from budget.counters import BudgetCounters
from budget.guardrails import load_counters
from budget.models import CostEntry
from execution.llm import gateway
from execution.llm.types import Call, LLMRequest, LLMResponse, Next
from execution.runtime.concurrency import ConcurrencyLimiter, slot_held


def request_for(masterplan_id: str | None) -> LLMRequest:
    return LLMRequest(
        model="claude-haiku-4-5", system="", max_tokens=16,
        messages=[{"role": "user", "content": "Say hi."}], masterplan_id=masterplan_id,
    )  # fmt: skip


@pytest.fixture
def plugged(monkeypatch):
    """Plug stages for one test; the chain is rebuilt with them and again after."""

    def plug(place: str, stage) -> None:  # type: ignore[no-untyped-def]
        monkeypatch.setitem(gateway._plugged, place, stage)
        monkeypatch.setattr(gateway, "_built", None)

    yield plug
    gateway._built = None


def test_the_chain_runs_trace_cache_budget_batch_then_the_slot_then_the_provider(plugged):
    # The tracing, caching and budget apps plug theirs in (caching the batch stage too).
    assert [place for place, _ in gateway.stages()] == [
        "trace", "cache", "budget", "batch", "concurrency", "provider"
    ]  # fmt: skip
    replacement = lambda call, next_stage: next_stage(call)  # noqa: E731
    plugged("trace", replacement)
    assert dict(gateway.stages())["trace"] is replacement
    with pytest.raises(ValueError, match="no place 'retry' in the gateway"):
        gateway.plug("retry", lambda call, next_stage: next_stage(call))


@pytest.mark.django_db
def test_a_cache_hit_takes_no_reservation_and_no_slot(plugged, stub_server, imported):
    masterplan = imported("slugkit")
    seen: list[tuple[int, object]] = []
    limiter, counters = ConcurrencyLimiter(), BudgetCounters()

    def cache(call: Call, next_stage: Next) -> LLMResponse:
        seen.append((limiter.in_flight(), counters.snapshot(masterplan.pk)))
        return LLMResponse(text="from the cache", model=call.request.model)

    plugged("cache", cache)
    with slot_held():  # the engine's admission, taken before it claims an atom
        response = gateway.complete(request_for(str(masterplan.pk)))
        # Given back as soon as the call was answered without the provider.
        assert limiter.in_flight() == 0
    assert response.text == "from the cache"
    assert seen == [(1, None)]  # the admission only; the budget never loaded, let alone reserved
    assert stub_server.stats.requests == 0
    assert not CostEntry.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_call_waiting_for_budget_holds_no_slot(stub_server, imported, settings):
    masterplan = imported("slugkit")
    counters = BudgetCounters()
    load_counters(masterplan.pk)
    # Another call in flight holds all but a millionth of the cap: this one waits for it.
    room = masterplan.budget_hard_cap_usd - Decimal("0.000001")
    other = counters.reserve(masterplan.pk, room, ttl_seconds=60)
    assert isinstance(other, str)
    limiter = ConcurrencyLimiter()
    answered: list[LLMResponse] = []

    def atom() -> None:
        with slot_held():
            answered.append(gateway.complete(request_for(str(masterplan.pk))))

    thread = threading.Thread(target=atom)
    thread.start()
    deadline = time.monotonic() + 5
    while limiter.client.get(limiter._key("peak")) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert limiter.client.get(limiter._key("peak")) == b"1"  # the admission was taken
    time.sleep(0.5)
    assert thread.is_alive() and not answered
    assert limiter.in_flight() == 0  # waiting for the budget, not holding a slot
    counters.settle(masterplan.pk, other, Decimal(0))  # the other call settles at $0
    thread.join(timeout=20)
    assert answered and answered[0].cost_usd is not None
    assert stub_server.stats.requests == 1
    assert limiter.in_flight() == 0
