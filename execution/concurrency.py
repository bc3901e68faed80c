"""One concurrency limit for LLM calls, shared by every worker on every machine.

The limit and the slots live in Redis. A slot is a lease (a sorted-set member scored by
its expiry), so a crashed worker's slots come back by themselves; taking one is a Lua
script that drops expired leases and admits only below the limit. The seed's sketch kept
an asyncio.Semaphore per process and replaced it on every change, which forgot the
holders in flight and multiplied the limit by the number of processes.

The limit moves (`adjust`, every MGE_CONCURRENCY_ADJUST_SECONDS) on measured signals —
LLM and database latency kept in Redis, the budget left — and is cut at once when the
provider answers 429/529 (`on_provider_status`).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from execution.llm.types import LLMRequest, LLMResponse
from mge_site.redis_connection import shared_redis

logger = logging.getLogger(__name__)

LLM_P95_TARGET_MS = 2000
DB_P95_TARGET_MS = 100
LOW_BUDGET_PCT = 20
SAMPLES_KEPT = 1000
ADJUSTMENTS_KEPT = 200
RATE_LIMIT_COOLDOWN_SECONDS = 2.0

_ACQUIRE = """
-- KEYS: holders, limit   ARGV: now, expires at, slot id, initial limit
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local limit = tonumber(redis.call('GET', KEYS[2]) or ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class Adjustment:
    limit: int
    reason: str
    kind: str = "healthy"
    """A short label for metrics: budget, llm_latency, db_latency, rate_limit, idle, healthy."""


def next_limit(
    current: int,
    *,
    minimum: int,
    maximum: int,
    in_flight: int,
    llm_p95_ms: float | None,
    db_p95_ms: float | None,
    budget_remaining_pct: float | None,
) -> Adjustment:
    """The seed's rules: LLM p95 > 2 s → −10 %; DB p95 > 100 ms → −10 %; budget left < 20 %
    → −50 %; all healthy → +5 %. The strongest cut wins when several apply; growth is at
    least one slot, and none while fewer than half the slots are in use (AIMD's guard: an
    idle system must not drift up to the maximum)."""
    cuts = []
    if budget_remaining_pct is not None and budget_remaining_pct < LOW_BUDGET_PCT:
        cuts.append(
            (0.5, "budget", f"budget remaining {budget_remaining_pct:.0f}% < {LOW_BUDGET_PCT}%")
        )
    if llm_p95_ms is not None and llm_p95_ms > LLM_P95_TARGET_MS:
        cuts.append((0.9, "llm_latency", f"LLM p95 {llm_p95_ms:.0f} ms > {LLM_P95_TARGET_MS} ms"))
    if db_p95_ms is not None and db_p95_ms > DB_P95_TARGET_MS:
        cuts.append((0.9, "db_latency", f"DB p95 {db_p95_ms:.0f} ms > {DB_P95_TARGET_MS} ms"))
    if cuts:
        factor, kind, _ = min(cuts, key=lambda cut: cut[0])  # the strongest, first on ties
        reason = "; ".join(reason for _, _, reason in cuts)
        return Adjustment(max(minimum, math.floor(current * factor)), reason, kind)
    if in_flight < current / 2:
        return Adjustment(current, f"idle ({in_flight} of {current} in use): no growth", "idle")
    return Adjustment(min(maximum, max(current + 1, math.floor(current * 1.05))), "healthy")


def percentile(samples: Sequence[float], share: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


class ConcurrencyLimiter:
    def __init__(self, pool: str = "llm") -> None:
        self.client = shared_redis()
        self.prefix = f"mge:concurrency:{pool}"
        self._acquire = self.client.register_script(_ACQUIRE)

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    # --- slots --------------------------------------------------------------------------

    def try_acquire(self) -> str | None:
        slot = uuid.uuid4().hex
        now = time.time()
        taken = self._acquire(
            keys=[self._key("holders"), self._key("limit")],
            args=[now, now + settings.MGE_CONCURRENCY_LEASE_SECONDS, slot,
                  settings.MGE_CONCURRENCY_INITIAL],
        )  # fmt: skip
        return slot if taken else None

    def acquire(self) -> str:
        """A slot, waiting (with jitter) while the limit is reached: backpressure."""
        slot = self.try_acquire()
        if slot:
            return slot
        self.client.incr(self._key("waiting"))
        try:
            delay = 0.005
            while True:
                time.sleep(delay * random.uniform(0.5, 1.5))
                slot = self.try_acquire()
                if slot:
                    return slot
                delay = min(0.2, delay * 2)
        finally:
            self.client.decr(self._key("waiting"))

    def release(self, slot: str, llm_ms: float | None = None) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.zrem(self._key("holders"), slot)
        if llm_ms is not None:
            pipe.lpush(self._key("llm_ms"), round(llm_ms, 1))
            pipe.ltrim(self._key("llm_ms"), 0, SAMPLES_KEPT - 1)
        pipe.execute()

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

    def in_flight(self) -> int:
        self.client.zremrangebyscore(self._key("holders"), "-inf", time.time())
        return int(self.client.zcard(self._key("holders")))

    def set_limit(self, limit: int, reason: str, kind: str = "manual") -> None:
        previous = self.limit()
        entry = json.dumps(
            {"at": timezone.now().isoformat(), "from": previous, "to": limit, "reason": reason,
             "kind": kind}
        )  # fmt: skip
        pipe = self.client.pipeline()
        pipe.set(self._key("limit"), limit)
        pipe.lpush(self._key("adjustments"), entry)
        pipe.ltrim(self._key("adjustments"), 0, ADJUSTMENTS_KEPT - 1)
        pipe.hincrby(self._key("adjustment_counts"), kind, 1)
        pipe.execute()
        if limit != previous:
            logger.info("concurrency limit %d → %d: %s", previous, limit, reason)

    def cut_for_rate_limit(self, status: int) -> bool:
        """Halve the limit at once (multiplicative decrease), once per cooldown: one burst
        of 429s is one signal, not fifty."""
        if not self.client.set(
            self._key("cut"), 1, nx=True, px=int(RATE_LIMIT_COOLDOWN_SECONDS * 1000)
        ):
            return False
        current = self.limit()
        new = max(settings.MGE_CONCURRENCY_MIN, math.floor(current * 0.5))
        self.set_limit(new, f"provider answered {status}", "rate_limit")
        return True

    def adjust(self, budget_remaining_pct: float | None = None) -> Adjustment:
        signals = self.signals()
        adjustment = next_limit(
            self.limit(),
            minimum=settings.MGE_CONCURRENCY_MIN,
            maximum=settings.MGE_CONCURRENCY_MAX,
            in_flight=self.in_flight(),
            llm_p95_ms=signals["llm_p95_ms"],
            db_p95_ms=signals["db_p95_ms"],
            budget_remaining_pct=budget_remaining_pct,
        )
        self.set_limit(adjustment.limit, adjustment.reason, adjustment.kind)
        return adjustment

    def signals(self) -> dict[str, float | None]:
        llm = [float(v) for v in self.client.lrange(self._key("llm_ms"), 0, -1)]
        db = [float(v) for v in self.client.lrange(self._key("db_ms"), 0, -1)]
        return {"llm_p95_ms": percentile(llm, 0.95), "db_p95_ms": percentile(db, 0.95)}

    def adjustment_counts(self) -> dict[str, int]:
        counts = self.client.hgetall(self._key("adjustment_counts"))
        return {kind.decode(): int(count) for kind, count in counts.items()}

    def queue_depth(self) -> int:
        return max(0, int(self.client.get(self._key("waiting")) or 0))

    def stats(self) -> dict[str, Any]:
        adjustments = [json.loads(a) for a in self.client.lrange(self._key("adjustments"), 0, 49)]
        return {
            "current_limit": self.limit(),
            "min_limit": settings.MGE_CONCURRENCY_MIN,
            "max_limit": settings.MGE_CONCURRENCY_MAX,
            "active_executions": self.in_flight(),
            "queue_depth": self.queue_depth(),
            **self.signals(),
            "adjustments": adjustments,
        }


# --- gateway middleware and hooks ----------------------------------------------------------

Call = Callable[[LLMRequest, Callable[..., Any]], LLMResponse]


def concurrency_guard(call: Call) -> Call:
    """Every LLM call holds a slot of the shared limit; its latency feeds the signals."""

    def guarded(request: LLMRequest, run_db: Callable[..., Any]) -> LLMResponse:
        limiter = ConcurrencyLimiter()
        slot = limiter.acquire()
        started = time.perf_counter()
        try:
            return call(request, run_db)
        finally:
            limiter.release(slot, (time.perf_counter() - started) * 1000)

    return guarded


def on_provider_status(status: int) -> None:
    """Every HTTP answer of the provider, retries included: 429/529 cut the limit now."""
    if status in (429, 529):
        ConcurrencyLimiter().cut_for_rate_limit(status)


def budget_remaining_pct() -> float | None:
    """The budget signal, from the app settings name (execution imports no budget code)."""
    signal = settings.MGE_CONCURRENCY_BUDGET_SIGNAL
    return import_string(signal)() if signal else None


def adjust_limit() -> dict[str, Any]:
    """Periodic job (the scheduler): move the limit on the signals."""
    adjustment = ConcurrencyLimiter().adjust(budget_remaining_pct())
    return {"limit": adjustment.limit, "reason": adjustment.reason}
