"""The shared limit and its slots in Redis: take, give back, cut, adjust, report."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any, cast

from django.conf import settings
from django.utils import timezone

from execution.runtime.concurrency import scripts
from execution.runtime.concurrency.policy import CUT_KINDS, Adjustment, next_limit, percentile
from execution.runtime.concurrency.waiters import POLL_FIRST_SECONDS, POLL_MAX_SECONDS, waiting_here
from mge_site.redis_connection import shared_redis

logger = logging.getLogger(__name__)

SAMPLES_KEPT = 1000
ADJUSTMENTS_KEPT = 200
WAITER_LEASE_SECONDS = 30
"""A caller waiting for a slot renews its place this long ahead, every third of it."""
RATE_LIMIT_COOLDOWN_SECONDS = 2.0
"""A burst of 429s is one entry in the adjustment log and one count in the metrics."""
RATE_LIMIT_KEEP = 0.9
"""Share of the calls in flight at a 429 that the limit keeps."""
HISTORY_SECONDS = 3600
"""How far back the dashboard's chart of the limit and the load reaches."""


class ConcurrencyLimiter:
    def __init__(self, pool: str = "llm") -> None:
        self.client = shared_redis()
        self.prefix = f"mge:concurrency:{pool}"

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    # --- slots --------------------------------------------------------------------------

    def try_acquire(self) -> str | None:
        slot = uuid.uuid4().hex
        now = time.time()
        taken = scripts.ACQUIRE(
            self.client,
            keys=[self._key("holders"), self._key("limit"), self._key("peak")],
            args=[now, now + settings.MGE_CONCURRENCY_LEASE_SECONDS, slot,
                  settings.MGE_CONCURRENCY_INITIAL],
        )  # fmt: skip
        return slot if taken else None

    def acquire(self, group: str = "") -> str:
        """A slot, waiting while the limit is reached: backpressure. Waiters of different
        groups (masterplans) take turns in this process."""
        slot = self.try_acquire()
        if slot:
            return slot
        # Each waiter is a lease too (renewed while it waits), so one killed mid-wait does
        # not count as queued forever and block new starts.
        waiter = uuid.uuid4().hex
        with waiting_here.place(group) as turn:
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
            if waiting_here.is_first(turn):
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
        grown = scripts.RELEASE(
            self.client,
            keys=[self._key("holders"), self._key("limit"), self._key("credit"),
                  self._key("hold"), self._key("llm_ms"), self._key("adjustment_counts"),
                  self._key("ceiling")],
            args=[slot, int(succeeded), settings.MGE_CONCURRENCY_MAX,
                  settings.MGE_CONCURRENCY_INITIAL, "" if llm_ms is None else _sample(llm_ms),
                  SAMPLES_KEPT],
        )  # fmt: skip
        waiting_here.wake_first()
        if grown:
            self._log(grown - 1, int(grown), "calls succeed at high use: probing upwards", "probe")

    def record_db_ms(self, samples: Sequence[float], waits: Sequence[float] = ()) -> None:
        """The database's own query times (the signal) and, apart, the waits for a lane
        thread: a busy worker process on a shared host, which a cut would not help."""
        pipe = self.client.pipeline(transaction=False)
        for key, values in (("db_ms", samples), ("db_wait_ms", waits)):
            if values:
                pipe.lpush(self._key(key), *(_sample(ms) for ms in values))
                pipe.ltrim(self._key(key), 0, SAMPLES_KEPT - 1)
        if pipe:
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
            scripts.COMPARE_AND_SET(
                self.client,
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
        previous, limit, first = scripts.CUT(
            self.client,
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
        """The latencies' p95 over the samples of the last adjustment period: an older one
        says nothing of now (an idle engine measures nothing, and its last slow sample
        would cut the limit period after period)."""
        since = time.time() - settings.MGE_CONCURRENCY_ADJUST_SECONDS
        llm = _recent(self.client.lrange(self._key("llm_ms"), 0, -1), since)
        db = _recent(self.client.lrange(self._key("db_ms"), 0, -1), since)
        db_wait = _recent(self.client.lrange(self._key("db_wait_ms"), 0, -1), since)
        return {
            "llm_p95_ms": percentile(llm, 0.95),
            "db_p95_ms": percentile(db, 0.95),
            "db_wait_p95_ms": percentile(db_wait, 0.95),
        }

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


def _sample(ms: float) -> str:
    """A latency with the time it was measured: "epoch seconds:ms"."""
    return f"{time.time():.3f}:{ms:.2f}"


def _recent(entries: Sequence[bytes | str], since: float) -> list[float]:
    samples = []
    for entry in entries:
        text = entry.decode() if isinstance(entry, bytes) else entry
        at, _, ms = text.partition(":")
        if ms and float(at) >= since:
            samples.append(float(ms))
    return samples
