"""The budget pauses a plan only when the next call cannot fit: 50 threads race for a cap
that holds exactly five worst-case calls, and every refusal is checked against the
figures it was decided on."""

from __future__ import annotations

import random
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest

from budget import guardrails
from budget.counters import BudgetCounters, Refusal
from budget.pricing import worst_case_cost
from execution.llm.types import Call, LLMRequest, LLMResponse, Usage

CALLS = 50
FITS = 5


def race(real_usage: Usage) -> tuple[list[LLMResponse], list[Refusal], Decimal, Decimal]:
    plan = str(uuid.uuid4())
    request = LLMRequest(
        model="claude-haiku-4-5", system="s", messages=[{"role": "user", "content": "x" * 400}],
        max_tokens=64, masterplan_id=plan,
    )  # fmt: skip
    worst = worst_case_cost(request.model, guardrails.input_bound(request), request.max_tokens)
    cap = worst * FITS
    counters = BudgetCounters()
    counters.load(plan, hard_cap=cap, soft_cap=cap, spent=Decimal(0))
    answered: list[LLMResponse] = []
    refusals: list[Refusal] = []
    lock = threading.Lock()

    def run_db(function: Any, *args: Any) -> Any:
        # The ledger and the alerts are other tests' subject; what matters here is when
        # the guard decides to pause, and on which figures.
        if function is guardrails.pause_for_budget:
            with lock:
                refusals.append(args[2])
        elif function is guardrails.load_counters:
            counters.load(plan, hard_cap=cap, soft_cap=cap, spent=Decimal(0))
        return None

    def provider(call: Call) -> LLMResponse:
        time.sleep(random.uniform(0.001, 0.02))
        return LLMResponse(text="ok", model=request.model, usage=real_usage)

    def one() -> None:
        try:
            response = guardrails.budget_guard(Call(request, run_db=run_db), provider)
        except guardrails.BudgetExceeded:
            return
        with lock:
            answered.append(response)

    threads = [threading.Thread(target=one) for _ in range(CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    snapshot = counters.snapshot(plan)
    assert snapshot is not None and snapshot.reserved_usd == 0
    return answered, refusals, worst, snapshot.spent_usd


@pytest.mark.parametrize("attempt", range(3))
def test_calls_that_settle_low_all_fit_and_nothing_pauses(attempt):
    # Each call costs a sliver of its worst case: all 50 fit under a cap of five worst
    # cases, one after another as the reservations in flight settle.
    answered, refusals, worst, spent = race(Usage(input_tokens=10, output_tokens=1))
    assert refusals == []
    assert len(answered) == CALLS
    assert spent == sum(response.cost_usd or 0 for response in answered) < worst * FITS


def test_calls_that_cost_their_worst_case_pause_exactly_when_the_next_cannot_fit():
    probe = LLMRequest(
        model="claude-haiku-4-5", system="s", messages=[{"role": "user", "content": "x" * 400}],
        max_tokens=64,
    )  # fmt: skip
    # The worst case prices input at the dearest input rate (a 1-hour cache write, twice
    # the plain rate): twice the bound in plain input tokens costs exactly that.
    worst_usage = Usage(input_tokens=2 * guardrails.input_bound(probe), output_tokens=64)
    answered, refusals, worst, spent = race(worst_usage)
    assert {response.cost_usd for response in answered} == {worst}
    assert len(answered) == FITS and spent == worst * FITS
    assert len(refusals) == CALLS - FITS
    for refusal in refusals:
        # At the moment of the decision the call did not fit, even with every call in
        # flight settled: spent + worst case > cap.
        assert not refusal.fits_once_settled(worst), refusal
        assert refusal.spent_usd + refusal.reserved_usd + worst > refusal.hard_cap_usd


def test_a_call_refused_just_before_the_call_in_flight_settles_waits_and_fits(monkeypatch):
    """The race the 50 threads rarely hit, made certain: the other call settles right
    after this one's refusal. Deciding on a second read (reserved: $0 now, so "nothing to
    wait for") paused a plan whose next call fitted."""
    plan = str(uuid.uuid4())
    request = LLMRequest(
        model="claude-haiku-4-5", system="s", messages=[{"role": "user", "content": "x"}],
        max_tokens=64, masterplan_id=plan,
    )  # fmt: skip
    worst = worst_case_cost(request.model, guardrails.input_bound(request), request.max_tokens)
    counters = BudgetCounters()
    counters.load(plan, hard_cap=worst, soft_cap=worst, spent=Decimal(0))
    in_flight = counters.reserve(plan, worst, ttl_seconds=60)
    assert isinstance(in_flight, str)
    real_reserve = BudgetCounters.reserve
    paused: list[Any] = []

    def refused_then_the_other_settles(self: BudgetCounters, *args: Any) -> str | Refusal:
        result = real_reserve(self, *args)
        if isinstance(result, Refusal):
            counters.settle(plan, in_flight, Decimal(0))
        return result

    def run_db(function: Any, *args: Any) -> None:
        if function is guardrails.pause_for_budget:
            paused.append(args)

    monkeypatch.setattr(BudgetCounters, "reserve", refused_then_the_other_settles)
    response = guardrails.budget_guard(
        Call(request, run_db=run_db),
        lambda call: LLMResponse(text="ok", model=request.model, usage=Usage(10, 1)),
    )
    assert paused == []
    assert response.cost_usd is not None and response.cost_usd < worst
