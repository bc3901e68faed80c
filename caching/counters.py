"""The caches' figures: hits, misses, bytes and the cost saved, per cache kind, overall and
per masterplan, as Redis hashes (the workers count, the web process reads).

A counter never fails a call: a Redis error while counting is logged and the call goes on.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from redis.client import Pipeline
from redis.exceptions import RedisError

from caching.redis_client import cache_redis

if TYPE_CHECKING:
    from execution.llm.types import LLMRequest

logger = logging.getLogger(__name__)

KINDS = ("llm_response", "retrieval")
"""The caches: `llm_response` (caching.llm_cache), `retrieval` (caching.retrieval)."""
PREFIX = "mge:cache:stats"
FIELDS = ("hits", "misses", "saved_micros", "bytes_stored", "too_large")
TOP_KEYS_KEPT = 1000
"""Each sorted set of hits per key keeps this many: the top of a long tail is enough."""
LABEL_CHARS = 120


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


# --- hits per key: the top keys and what a human recognises them by -------------------


def top_key(kind: str, masterplan_id: str | None) -> str:
    scope = "" if masterplan_id is None else f":plan:{masterplan_id}"
    return f"{PREFIX}:{kind}:top{scope}"


def label_key(kind: str, key: str) -> str:
    return f"{PREFIX}:{kind}:label:{key}"


def hit(kind: str, masterplan_id: str | None, key: str, saved_micros: int = 0) -> None:
    """Count a hit on `key` (overall and for the plan) and rank the key by its hits, in one
    round trip; a Redis error is logged, not raised."""
    ttl = settings.MGE_LLM_CACHE_TTL_SECONDS
    try:
        pipe = cache_redis().pipeline(transaction=False)
        add_to(pipe, kind, masterplan_id, {"hits": 1, "saved_micros": saved_micros})
        for scope in [None] if masterplan_id is None else [None, masterplan_id]:
            ranking = top_key(kind, scope)
            pipe.zincrby(ranking, 1, key)
            # Trimming on every hit keeps the set bounded whether or not the scheduler runs;
            # with nothing to remove it costs O(log n).
            pipe.zremrangebyrank(ranking, 0, -TOP_KEYS_KEPT - 1)
            pipe.expire(ranking, ttl)
        pipe.execute()
    except RedisError as error:
        logger.warning("%s cache hit on %s not counted: %s", kind, key, error)


def label_to(pipe: Pipeline, kind: str, key: str, label: dict[str, str], ttl: int) -> None:
    """Queue the label of a key being stored: the top keys show it instead of a hash."""
    for name, value in label.items():
        pipe.hset(label_key(kind, key), name, value)
    if label:
        pipe.expire(label_key(kind, key), ttl)


def llm_label(request: LLMRequest) -> dict[str, str]:
    """Purpose, model, atom and the prompt line that names what is asked (`Atom: …` in an
    atom prompt, else the first line of the last message)."""
    label = {"purpose": request.purpose, "model": request.model}
    if request.atom_id is not None:
        label["atom_id"] = request.atom_id
    if request.messages:
        lines = [line.strip() for line in _text_of(request.messages[-1]).splitlines()]
        lines = [line for line in lines if line]
        named = next((line for line in lines if line.startswith("Atom: ")), None)
        if named or lines:
            label["prompt"] = (named or lines[0])[:LABEL_CHARS]
    return label


def _text_of(message: dict[str, Any]) -> str:
    # A message's content is a string, or blocks (cache_control breakpoints need blocks).
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "\n".join(str(block.get("text", "")) for block in content if isinstance(block, dict))


def top_keys(kind: str, masterplan_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The keys with the most hits, most first, each with its hits and its label (empty
    once the entry and its label expired)."""
    client = cache_redis()
    ranked = cast(
        list[tuple[bytes, float]],
        client.zrevrange(top_key(kind, masterplan_id), 0, limit - 1, withscores=True),
    )
    pipe = client.pipeline(transaction=False)
    for member, _score in ranked:
        pipe.hgetall(label_key(kind, member.decode()))
    labels = cast(list[dict[bytes, bytes]], pipe.execute()) if ranked else []
    return [
        {
            "key": member.decode(),
            "hits": int(score),
            "label": {name.decode(): value.decode() for name, value in label.items()},
        }
        for (member, score), label in zip(ranked, labels, strict=True)
    ]
