"""The gateway's concurrency stage, the provider's hooks, and the periodic jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from execution import events
from execution.llm.types import Call, LLMResponse, Next
from execution.runtime.concurrency.limiter import ConcurrencyLimiter


class _Held(threading.local):
    """The slot of the call this thread is making (the provider's hooks run in it)."""

    guarded: bool = False
    group: str = ""
    """The masterplan the call is for: its waits take turns with other plans'."""
    slot: str | None = None
    taken_ahead: bool = False
    attempt_started: float | None = None
    attempt_sent_at: float | None = None
    """The same moment on the wall clock, which every worker's limiter compares."""
    answered_ms: float | None = None
    """How long the provider took for the attempt that answered (not retry-after waits)."""


_held = _Held()


@contextmanager
def slot_held(group: str = "") -> Iterator[None]:
    """Wait for a slot of the shared limit before the work inside (an admission); its
    first LLM call's concurrency stage takes the slot over, and gives it back when the
    provider has answered, like any call.

    The engine waits here before it claims an atom, so an atom is marked running only once
    it can start, and a pause still stops every atom that is waiting for a slot. A stage
    that waits before the slot (the budget) or answers without the provider (a cache hit)
    gives the admission back (`give_back_admission`)."""
    limiter = ConcurrencyLimiter()
    waiting = time.perf_counter()
    _held.slot, _held.taken_ahead = limiter.acquire(group), True
    events.emit("slot_acquired", admission=True, duration_ms=(time.perf_counter() - waiting) * 1000)
    try:
        yield
    finally:
        give_back_admission()


def give_back_admission() -> None:
    """Give back the slot this thread took ahead, if no call has taken it over."""
    if _held.taken_ahead:
        slot, _held.slot, _held.taken_ahead = _held.slot, None, False
        if slot:
            ConcurrencyLimiter().release(slot)


def slot_stage(call: Call, next_stage: Next) -> LLMResponse:
    """The gateway's concurrency stage: the provider is asked holding a slot of the
    shared limit (the admission taken ahead, or a new one); its latency feeds the signals."""
    limiter = ConcurrencyLimiter()
    _held.group = call.request.masterplan_id or ""
    if _held.taken_ahead and _held.slot:
        _held.taken_ahead = False
    else:
        waiting = time.perf_counter()
        _held.slot = limiter.acquire(_held.group)
        events.emit("slot_acquired", duration_ms=(time.perf_counter() - waiting) * 1000)
    _held.guarded, _held.answered_ms = True, None
    started = time.perf_counter()
    succeeded = False
    try:
        response = next_stage(call)
        succeeded = True
        return response
    finally:
        slot, _held.slot, _held.guarded = _held.slot, None, False
        _held.attempt_started = _held.attempt_sent_at = None
        # The latency signal is the provider's own time when the hooks saw it (the
        # offline provider has none: the whole call then).
        llm_ms = _held.answered_ms or (time.perf_counter() - started) * 1000
        if slot:
            limiter.release(slot, llm_ms, succeeded=succeeded)


def before_provider_request() -> None:
    """Before each HTTP request to the provider (the SDK's retries too): a call that gave
    its slot back on a 429 waits for a new one under the lowered limit."""
    if _held.guarded and _held.slot is None:
        _held.slot = ConcurrencyLimiter().acquire(_held.group)
    _held.attempt_started, _held.attempt_sent_at = time.perf_counter(), time.time()


def on_provider_status(status: int) -> None:
    """Every HTTP answer of the provider, retries included: an answer gives this call's
    slot back; a 429/529 does too, for the retry-after wait, and cuts the limit now."""
    if _held.guarded and _held.attempt_started is not None and status < 400:
        _held.answered_ms = (time.perf_counter() - _held.attempt_started) * 1000
        if _held.slot:
            # The provider is done with the call: its slot is free now, not after our
            # parsing, budget settling and bookkeeping (which would keep the provider's
            # load below the limit by their share of each call).
            ConcurrencyLimiter().release(_held.slot, _held.answered_ms, succeeded=True)
            _held.slot = None
    if status in (429, 529):
        limiter = ConcurrencyLimiter()
        if _held.slot:
            limiter.release(_held.slot)
            _held.slot = None
        limiter.cut_for_rate_limit(status, _held.attempt_sent_at)


_budget_signal: Callable[[], float | None] | None = None


def use_budget_signal(signal: Callable[[], float | None]) -> None:
    """The budget app plugs in the share of budget left (execution imports no budget code)."""
    global _budget_signal
    _budget_signal = signal


def budget_remaining_pct() -> float | None:
    return _budget_signal() if _budget_signal else None


def adjust_limit() -> dict[str, Any]:
    """Periodic job (the scheduler): move the limit on the signals."""
    adjustment = ConcurrencyLimiter().adjust(budget_remaining_pct())
    return {"limit": adjustment.limit, "reason": adjustment.reason}


def sample_concurrency() -> dict[str, Any]:
    """Periodic job (the scheduler): a point of the dashboard's chart."""
    return ConcurrencyLimiter().record_sample()
