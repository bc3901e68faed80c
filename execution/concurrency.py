"""One concurrency limit for LLM calls, shared by every worker on every machine.

The limit and the slots live in Redis. A slot is a lease (a sorted-set member scored by
its expiry), so a crashed worker's slots come back by themselves; taking one is a Lua
script that drops expired leases and admits only below the limit. The seed's sketch kept
an asyncio.Semaphore per process and replaced it on every change, which forgot the
holders in flight and multiplied the limit by the number of processes.

The limit moves on two clocks. Every MGE_CONCURRENCY_ADJUST_SECONDS `adjust` applies the
seed's rules to measured signals (LLM and database latency kept in Redis, the budget
left). Between those, the provider's own answers drive it, AIMD-style: a 429/529 cuts
the limit at once to 90 % of what was in flight when it came (the provider told us what
it holds; once per congestion event: not again for requests sent before the cut, as
TCP), and calls that succeed while at least half the slots are busy probe upwards by one
slot per `limit` successes (TCP's additive increase). Growth stops one slot below the
limit in force when the provider last refused, for one adjustment period (the `ceiling`,
as TCP CUBIC plateaus below its last loss): every refusal costs its call the whole
retry-after, and one landing in the last second of a wave holds up the next wave, so
probing past a known ceiling again and again costs more than its extra slot earns. A
call refused with 429 gives its slot back while the SDK waits out retry-after, and its
retry queues for a slot again: the retries of a burst pass through the lowered limit
instead of hammering the provider.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.utils import timezone

from execution.llm.types import Call, LLMResponse, Next
from mge_site.redis_connection import shared_redis

logger = logging.getLogger(__name__)

LOW_BUDGET_PCT = 20
SAMPLES_KEPT = 1000
ADJUSTMENTS_KEPT = 200
CUT_KINDS = frozenset({"budget", "llm_latency", "db_latency"})
WAITER_LEASE_SECONDS = 30
"""A caller waiting for a slot renews its place this long ahead, every third of it."""
POLL_FIRST_SECONDS, POLL_MAX_SECONDS = 0.005, 0.05
"""How soon the first waiter of a process polls again, doubling up to the most."""
RATE_LIMIT_COOLDOWN_SECONDS = 2.0
"""A burst of 429s is one entry in the adjustment log and one count in the metrics."""
RATE_LIMIT_KEEP = 0.9
"""Share of the calls in flight at a 429 that the limit keeps."""
HISTORY_SECONDS = 3600
"""How far back the dashboard's chart of the limit and the load reaches."""

_ACQUIRE = """
-- KEYS: holders, limit, peak   ARGV: now, expires at, slot id, initial limit
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local limit = tonumber(redis.call('GET', KEYS[2]) or ARGV[4])
local held = redis.call('ZCARD', KEYS[1])
if held >= limit then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if held + 1 > tonumber(redis.call('GET', KEYS[3]) or 0) then
  redis.call('SET', KEYS[3], held + 1)
end
return 1
"""

# Additive increase: a success while at least half the slots are busy earns 1/limit of a
# slot; a whole one raises the limit. Not while a periodic rule holds it down (`hold`),
# and not up to the limit the provider last refused at while that is fresh (`ceiling`).
_RELEASE = """
-- KEYS: holders, limit, credit, hold, llm samples, counts, ceiling
-- ARGV: slot, succeeded (0/1), maximum, initial limit, latency ms ('' = none), samples kept
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[5] ~= '' then
  redis.call('LPUSH', KEYS[5], ARGV[5])
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[6]) - 1)
end
if ARGV[2] ~= '1' or redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local limit = tonumber(redis.call('GET', KEYS[2]) or ARGV[4])
if limit >= tonumber(ARGV[3]) then return 0 end
local ceiling = redis.call('GET', KEYS[7])
if ceiling and limit + 1 >= tonumber(ceiling) then return 0 end
if (redis.call('ZCARD', KEYS[1]) + 1) * 2 < limit then return 0 end
local credit = tonumber(redis.call('INCRBYFLOAT', KEYS[3], 1 / limit))
if credit < 1 then return 0 end
redis.call('SET', KEYS[3], 0)
redis.call('SET', KEYS[2], limit + 1)
redis.call('HINCRBY', KEYS[6], 'probe', 1)
return limit + 1
"""

_COMPARE_AND_SET = """
-- KEYS: limit, counts   ARGV: expected, new limit, initial limit, kind
if tonumber(redis.call('GET', KEYS[1]) or ARGV[3]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
return 1
"""

# One cut per congestion event, as TCP ignores the losses of what it sent before it cut
# its window: a request sent before the last cut left under the limit that cut lowered,
# so its 429 says nothing new. A 429 for a request sent after it does: the new limit is
# still above what the provider holds, and it cuts again at once (a cold start, far
# above, comes down in a few refusals rather than one cut per round trip). The send
# time, not the slot's: a call that took its slot before the cut but sent after it found
# the provider full under the new limit, which is news too (benchmarks/README.md
# measures both). The times are the workers' clocks: a skew between machines misfiles a
# 429 or two. The last cut is kept as long as a slot taken before it can live.
_CUT = """
-- KEYS: holders, limit, burst marker, credit, last cut, ceiling
-- ARGV: now, minimum, initial, keep, cooldown ms, ceiling ms, request sent at, lease ms
local current = tonumber(redis.call('GET', KEYS[2]) or ARGV[3])
local last_cut = redis.call('GET', KEYS[5])
if last_cut and tonumber(ARGV[7]) <= tonumber(last_cut) then return {current, current, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local target = math.max(tonumber(ARGV[2]),
                        math.floor(redis.call('ZCARD', KEYS[1]) * tonumber(ARGV[4])))
if target >= current then return {current, current, 0} end
redis.call('SET', KEYS[2], target)
redis.call('SET', KEYS[4], 0)
redis.call('SET', KEYS[6], current, 'PX', ARGV[6])
redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[8])
local first = redis.call('SET', KEYS[3], 1, 'NX', 'PX', ARGV[5])
return {current, target, first and 1 or 0}
"""


@dataclass(frozen=True)
class Adjustment:
    limit: int
    reason: str
    kind: str = "healthy"
    """A short label for metrics: budget, llm_latency, db_latency, idle, healthy, ceiling,
    skipped (the rules'); rate_limit, probe, manual are the other moves of the limit."""


def next_limit(
    current: int,
    *,
    minimum: int,
    maximum: int,
    in_flight: int,
    llm_p95_ms: float | None,
    db_p95_ms: float | None,
    budget_remaining_pct: float | None,
    llm_p95_target_ms: int,
    db_p95_target_ms: int,
    ceiling: int | None = None,
) -> Adjustment:
    """The seed's rules: LLM p95 > 2 s → −10 %; DB p95 > 100 ms → −10 %; budget left <
    20 % → −50 %; all healthy → +5 % (the latency targets come from the settings). The
    strongest cut wins when several apply; growth is at least one slot, and none while
    fewer than half the slots are in use (AIMD's guard: an idle system must not drift up
    to the maximum), nor up to `ceiling`, the limit in force when the provider last
    refused, during the period after it (it is not all healthy)."""
    cuts = []
    if budget_remaining_pct is not None and budget_remaining_pct < LOW_BUDGET_PCT:
        cuts.append(
            (0.5, "budget", f"budget remaining {budget_remaining_pct:.0f}% < {LOW_BUDGET_PCT}%")
        )
    if llm_p95_ms is not None and llm_p95_ms > llm_p95_target_ms:
        cuts.append((0.9, "llm_latency", f"LLM p95 {llm_p95_ms:.0f} ms > {llm_p95_target_ms} ms"))
    if db_p95_ms is not None and db_p95_ms > db_p95_target_ms:
        cuts.append((0.9, "db_latency", f"DB p95 {db_p95_ms:.0f} ms > {db_p95_target_ms} ms"))
    if cuts:
        factor, kind, _ = min(cuts, key=lambda cut: cut[0])  # the strongest, first on ties
        reason = "; ".join(reason for _, _, reason in cuts)
        return Adjustment(max(minimum, math.floor(current * factor)), reason, kind)
    if in_flight < current / 2:
        return Adjustment(current, f"idle ({in_flight} of {current} in use): no growth", "idle")
    grown = min(maximum, max(current + 1, math.floor(current * 1.05)))
    if ceiling is not None and grown >= ceiling:
        reason = f"the provider refused at {ceiling} during the last period: held below it"
        return Adjustment(max(current, ceiling - 1), reason, "ceiling")
    return Adjustment(grown, "healthy")


def percentile(samples: Sequence[float], share: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


class _WaitingHere:
    """This process's threads waiting for a slot, first come, first served.

    Only the first one polls Redis; the others sleep until they are first. A hundred
    waiters polling on their own cost the workers more CPU than the atoms' work
    (benchmarks/README.md). A slot given back in this process wakes the first at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[threading.Event] = deque()

    @contextmanager
    def place(self) -> Iterator[threading.Event]:
        """A place in the queue: its event is set whenever it should try for a slot."""
        turn = threading.Event()
        with self._lock:
            self._queue.append(turn)
            if len(self._queue) == 1:
                turn.set()
        try:
            yield turn
        finally:
            with self._lock:
                self._queue.remove(turn)
                if self._queue:
                    self._queue[0].set()  # the next one polls now

    def is_first(self, turn: threading.Event) -> bool:
        with self._lock:
            return bool(self._queue) and self._queue[0] is turn

    def wake_first(self) -> None:
        with self._lock:
            if self._queue:
                self._queue[0].set()


_waiting_here = _WaitingHere()


class ConcurrencyLimiter:
    def __init__(self, pool: str = "llm") -> None:
        self.client = shared_redis()
        self.prefix = f"mge:concurrency:{pool}"
        self._acquire = self.client.register_script(_ACQUIRE)
        self._release = self.client.register_script(_RELEASE)
        self._cut = self.client.register_script(_CUT)
        self._compare_and_set = self.client.register_script(_COMPARE_AND_SET)

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    # --- slots --------------------------------------------------------------------------

    def try_acquire(self) -> str | None:
        slot = uuid.uuid4().hex
        now = time.time()
        taken = self._acquire(
            keys=[self._key("holders"), self._key("limit"), self._key("peak")],
            args=[now, now + settings.MGE_CONCURRENCY_LEASE_SECONDS, slot,
                  settings.MGE_CONCURRENCY_INITIAL],
        )  # fmt: skip
        return slot if taken else None

    def acquire(self) -> str:
        """A slot, waiting while the limit is reached: backpressure."""
        slot = self.try_acquire()
        if slot:
            return slot
        # Each waiter is a lease too (renewed while it waits), so one killed mid-wait does
        # not count as queued forever and block new starts.
        waiter = uuid.uuid4().hex
        with _waiting_here.place() as turn:
            renew_at = self._renew_waiter(waiter)
            try:
                return self._wait_in_line(turn, waiter, renew_at)
            finally:
                self.client.zrem(self._key("waiting"), waiter)

    def _renew_waiter(self, waiter: str) -> float:
        """Renew the waiter's lease; returns when to renew it next (monotonic clock)."""
        self.client.zadd(self._key("waiting"), {waiter: time.time() + WAITER_LEASE_SECONDS})
        return time.monotonic() + WAITER_LEASE_SECONDS / 3

    def _wait_in_line(self, turn: threading.Event, waiter: str, renew_at: float) -> str:
        delay = POLL_FIRST_SECONDS
        while True:
            if _waiting_here.is_first(turn):
                # The first polls for slots freed by other processes, backing off with
                # jitter; a slot freed here wakes it at once.
                woken = turn.wait(delay * random.uniform(0.5, 1.5))
                polls = True
            else:
                # The rest sleep until they are first, waking to renew their lease.
                woken = polls = turn.wait(max(0.0, renew_at - time.monotonic()))
            turn.clear()
            if polls:
                slot = self.try_acquire()
                if slot:
                    return slot
                if not woken:
                    delay = min(POLL_MAX_SECONDS, delay * 2)
            if time.monotonic() >= renew_at:
                renew_at = self._renew_waiter(waiter)

    def release(self, slot: str, llm_ms: float | None = None, *, succeeded: bool = False) -> None:
        """Give the slot back; a call that succeeded may raise the limit by probing."""
        grown = self._release(
            keys=[self._key("holders"), self._key("limit"), self._key("credit"),
                  self._key("hold"), self._key("llm_ms"), self._key("adjustment_counts"),
                  self._key("ceiling")],
            args=[slot, int(succeeded), settings.MGE_CONCURRENCY_MAX,
                  settings.MGE_CONCURRENCY_INITIAL, "" if llm_ms is None else round(llm_ms, 1),
                  SAMPLES_KEPT],
        )  # fmt: skip
        _waiting_here.wake_first()
        if grown:
            self._log(grown - 1, int(grown), "calls succeed at high use: probing upwards", "probe")

    def record_db_ms(self, samples: Sequence[float]) -> None:
        if samples:
            pipe = self.client.pipeline(transaction=False)
            pipe.lpush(self._key("db_ms"), *(round(ms, 2) for ms in samples))
            pipe.ltrim(self._key("db_ms"), 0, SAMPLES_KEPT - 1)
            pipe.execute()

    # --- the limit --------------------------------------------------------------------------

    def limit(self) -> int:
        value = self.client.get(self._key("limit"))
        return int(value) if value is not None else settings.MGE_CONCURRENCY_INITIAL

    def ceiling(self) -> int | None:
        """The limit in force when the provider last refused (429/529), during one
        adjustment period after the refusal; growth stops below it until then."""
        value = self.client.get(self._key("ceiling"))
        return int(value) if value is not None else None

    def in_flight(self) -> int:
        self.client.zremrangebyscore(self._key("holders"), "-inf", time.time())
        return int(self.client.zcard(self._key("holders")))

    def set_limit(self, limit: int, reason: str, kind: str = "manual") -> None:
        previous = self.limit()
        pipe = self.client.pipeline()
        pipe.set(self._key("limit"), limit)
        pipe.hincrby(self._key("adjustment_counts"), kind, 1)
        # A limit set by hand: the next 429 cuts from it, and growth may pass the old ceiling.
        pipe.delete(self._key("last_cut"), self._key("ceiling"))
        pipe.execute()
        self._log(previous, limit, reason, kind)

    def _set_if(self, expected: int, limit: int, kind: str) -> bool:
        """Set the limit if it still is `expected` (atomic), counting the adjustment."""
        return bool(
            self._compare_and_set(
                keys=[self._key("limit"), self._key("adjustment_counts")],
                args=[expected, limit, settings.MGE_CONCURRENCY_INITIAL, kind],
            )
        )

    def _log(
        self, previous: int, limit: int, reason: str, kind: str, *, merge: bool = False
    ) -> None:
        """An entry of the adjustment log; `merge` folds it into the newest entry of the
        same kind (a burst of 429s, a run of probes, the same "idle" again and again),
        keeping where that one started."""
        now = timezone.now()
        entry = {"at": now.isoformat(), "from": previous, "to": limit, "reason": reason,
                 "kind": kind}  # fmt: skip
        newest = self.client.lindex(self._key("adjustments"), 0)
        head = json.loads(newest) if newest else None
        unchanged = limit == previous and head is not None and head["from"] == head["to"]
        if head and head["kind"] == kind and (merge or kind == "probe" or unchanged):
            entry["from"] = head["from"]
            self.client.lset(self._key("adjustments"), 0, json.dumps(entry))
        else:
            pipe = self.client.pipeline()
            pipe.lpush(self._key("adjustments"), json.dumps(entry))
            pipe.ltrim(self._key("adjustments"), 0, ADJUSTMENTS_KEPT - 1)
            pipe.execute()
        if limit != previous:
            logger.info("concurrency limit %d → %d: %s", previous, limit, reason)

    def cut_for_rate_limit(self, status: int, sent_at: float | None = None) -> bool:
        """Cut the limit at once (multiplicative decrease) to 90 % of the calls in flight.
        A 429 for a request sent (`sent_at`, epoch seconds; None: just now) before the
        last cut is the same congestion event and does not cut again (see _CUT); a burst
        is one log entry and one count. Returns whether the limit moved.
        """
        now = time.time()
        previous, limit, first = self._cut(
            keys=[self._key("holders"), self._key("limit"), self._key("cut"),
                  self._key("credit"), self._key("last_cut"), self._key("ceiling")],
            args=[now, settings.MGE_CONCURRENCY_MIN, settings.MGE_CONCURRENCY_INITIAL,
                  RATE_LIMIT_KEEP, int(RATE_LIMIT_COOLDOWN_SECONDS * 1000),
                  settings.MGE_CONCURRENCY_ADJUST_SECONDS * 1000,
                  now if sent_at is None else sent_at,
                  max(1, int(settings.MGE_CONCURRENCY_LEASE_SECONDS * 1000))],
        )  # fmt: skip
        if limit == previous:
            return False
        if first:
            self.client.hincrby(self._key("adjustment_counts"), "rate_limit", 1)
        self._log(previous, limit, f"provider answered {status}", "rate_limit", merge=not first)
        return True

    def adjust(self, budget_remaining_pct: float | None = None) -> Adjustment:
        signals = self.signals()
        current = self.limit()
        adjustment = next_limit(
            current,
            minimum=settings.MGE_CONCURRENCY_MIN,
            maximum=settings.MGE_CONCURRENCY_MAX,
            in_flight=self.in_flight(),
            llm_p95_ms=signals["llm_p95_ms"],
            db_p95_ms=signals["db_p95_ms"],
            budget_remaining_pct=budget_remaining_pct,
            ceiling=self.ceiling(),
            llm_p95_target_ms=settings.MGE_CONCURRENCY_LLM_P95_MS,
            db_p95_target_ms=settings.MGE_CONCURRENCY_DB_P95_MS,
        )
        # Only if nothing moved the limit meanwhile: a 429's cut must not be overwritten
        # by a decision made on the limit before it.
        if not self._set_if(current, adjustment.limit, adjustment.kind):
            return Adjustment(self.limit(), "moved meanwhile (a 429 or a probe): kept", "skipped")
        self._log(current, adjustment.limit, adjustment.reason, adjustment.kind)
        if adjustment.kind in CUT_KINDS:
            # Probing must not undo a cut the signals asked for before they are read again.
            self.client.set(self._key("hold"), 1, ex=settings.MGE_CONCURRENCY_ADJUST_SECONDS)
        return adjustment

    def record_sample(self) -> dict[str, Any]:
        """A point of the dashboard's chart: the limit, the calls in flight now and the most
        in flight at once since the previous point (taken by the acquire script)."""
        now = time.time()
        in_flight = self.in_flight()
        peak = self.client.getdel(self._key("peak"))
        sample = {"t": round(now, 3), "limit": self.limit(), "in_flight": in_flight,
                  "peak": max(in_flight, int(peak or 0))}  # fmt: skip
        pipe = self.client.pipeline()
        pipe.zadd(self._key("history"), {json.dumps(sample): now})
        pipe.zremrangebyscore(self._key("history"), "-inf", now - HISTORY_SECONDS)
        pipe.execute()
        return sample

    def history(self, seconds: float = HISTORY_SECONDS) -> list[dict[str, Any]]:
        """The chart's points of the last `seconds`, oldest first."""
        # Without withscores the members alone; bytes, as the client does not decode responses.
        members = cast(
            list[bytes],
            self.client.zrangebyscore(self._key("history"), time.time() - seconds, "+inf"),
        )
        return [json.loads(member) for member in members]

    def signals(self) -> dict[str, float | None]:
        llm = [float(v) for v in self.client.lrange(self._key("llm_ms"), 0, -1)]
        db = [float(v) for v in self.client.lrange(self._key("db_ms"), 0, -1)]
        return {"llm_p95_ms": percentile(llm, 0.95), "db_p95_ms": percentile(db, 0.95)}

    def adjustment_counts(self) -> dict[str, int]:
        # Bytes, as the client does not decode responses.
        counts = cast(dict[bytes, bytes], self.client.hgetall(self._key("adjustment_counts")))
        return {kind.decode(): int(count) for kind, count in counts.items()}

    def queue_depth(self) -> int:
        self.client.zremrangebyscore(self._key("waiting"), "-inf", time.time())
        return int(self.client.zcard(self._key("waiting")))

    def stats(self) -> dict[str, Any]:
        adjustments = [json.loads(a) for a in self.client.lrange(self._key("adjustments"), 0, 49)]
        return {
            "current_limit": self.limit(),
            "min_limit": settings.MGE_CONCURRENCY_MIN,
            "max_limit": settings.MGE_CONCURRENCY_MAX,
            "active_executions": self.in_flight(),
            "queue_depth": self.queue_depth(),
            "rate_limit_ceiling": self.ceiling(),
            **self.signals(),
            "adjustments": adjustments,
        }


# --- the gateway's concurrency stage and the provider's hooks -------------------------------


class _Held(threading.local):
    """The slot of the call this thread is making (the provider's hooks run in it)."""

    guarded: bool = False
    slot: str | None = None
    taken_ahead: bool = False
    attempt_started: float | None = None
    attempt_sent_at: float | None = None
    """The same moment on the wall clock, which every worker's limiter compares."""
    answered_ms: float | None = None
    """How long the provider took for the attempt that answered (not retry-after waits)."""


_held = _Held()


@contextmanager
def slot_held() -> Iterator[None]:
    """Wait for a slot of the shared limit before the work inside (an admission); its
    first LLM call's concurrency stage takes the slot over, and gives it back when the
    provider has answered, like any call.

    The engine waits here before it claims an atom, so an atom is marked running only once
    it can start, and a pause still stops every atom that is waiting for a slot. A stage
    that waits before the slot (the budget) or answers without the provider (a cache hit)
    gives the admission back (`give_back_admission`)."""
    limiter = ConcurrencyLimiter()
    _held.slot, _held.taken_ahead = limiter.acquire(), True
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
    if _held.taken_ahead and _held.slot:
        _held.taken_ahead = False
    else:
        _held.slot = limiter.acquire()
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
        _held.slot = ConcurrencyLimiter().acquire()
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
