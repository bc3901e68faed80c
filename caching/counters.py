"""The caches' figures: hits, misses, bytes and the cost saved, per cache kind, overall and
per masterplan, as Redis hashes (the workers count, the web process reads).

A counter never fails a call: a Redis error while counting is logged and the call goes on.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from redis.client import Pipeline
from redis.exceptions import RedisError

from caching.redis_client import cache_redis

logger = logging.getLogger(__name__)

KINDS = ("llm_response", "retrieval")
"""The caches: `llm_response` (caching.llm_cache), `retrieval` (caching.retrieval)."""
PREFIX = "mge:cache:stats"
FIELDS = ("hits", "misses", "saved_micros", "bytes_stored", "too_large")


def overall_key(kind: str) -> str:
    return f"{PREFIX}:{kind}"


def plan_key(kind: str, masterplan_id: str) -> str:
    return f"{PREFIX}:{kind}:plan:{masterplan_id}"


def add_to(pipe: Pipeline, kind: str, masterplan_id: str | None, fields: dict[str, int]) -> None:
    """Queue the additions on a pipeline the caller executes (with its own writes)."""
    for name, amount in fields.items():
        pipe.hincrby(overall_key(kind), name, amount)
        if masterplan_id is not None:
            pipe.hincrby(plan_key(kind, masterplan_id), name, amount)
    if masterplan_id is not None:
        # A plan's figures live as long as what its calls stored.
        pipe.expire(plan_key(kind, masterplan_id), settings.MGE_LLM_CACHE_TTL_SECONDS)


def count(kind: str, masterplan_id: str | None, **fields: int) -> None:
    """Add to a kind's counters in one round trip; a Redis error is logged, not raised."""
    try:
        pipe = cache_redis().pipeline(transaction=False)
        add_to(pipe, kind, masterplan_id, fields)
        pipe.execute()
    except RedisError as error:
        logger.warning("%s cache counters not updated: %s", kind, error)


def micros(amount: Decimal) -> int:
    return int(amount * 1_000_000)


def stats(kind: str, masterplan_id: str | None = None) -> dict[str, Any]:
    """A kind's hits, misses, their rate, the cost saved and the bytes stored."""
    key = overall_key(kind) if masterplan_id is None else plan_key(kind, masterplan_id)
    raw = cache_redis().hgetall(key)
    counts = {name.decode(): int(value) for name, value in raw.items()}  # type: ignore[union-attr]
    return figures_of(counts)


def figures_of(counts: dict[str, int]) -> dict[str, Any]:
    hits, misses = counts.get("hits", 0), counts.get("misses", 0)
    return {
        "hits": hits,
        "misses": misses,
        "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
        "saved_usd": str(Decimal(counts.get("saved_micros", 0)) / 1_000_000),
        "bytes_stored": counts.get("bytes_stored", 0),
        "too_large": counts.get("too_large", 0),
    }


def all_stats(masterplan_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Every kind's figures, and `combined` (hits and misses of all kinds together)."""
    kinds = {kind: stats(kind, masterplan_id) for kind in KINDS}
    total = {
        name: sum(int(figures[name]) for figures in kinds.values())
        for name in ("hits", "misses", "bytes_stored", "too_large")
    }
    total["saved_micros"] = sum(micros(Decimal(figures["saved_usd"])) for figures in kinds.values())
    return {**kinds, "combined": figures_of(total)}
