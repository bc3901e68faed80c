"""The exact LLM response cache: the gateway's cache stage (before the budget and the
concurrency slot, so a hit takes neither).

The key is the SHA-256 of a canonical JSON of everything that changes the answer (the
provider, the model, the system prompt, the messages, max_tokens, the prompt template's
version) and the namespace; the value is the answer, its usage and what it cost. A hit
costs nothing: the ledger gets a $0 entry with `cache_hit` and the cost saved. Exact
only — no similarity matching: for code a near match is a wrong answer (docs/caching.md).

The cache is never a point of failure: Redis down, slow (MGE_LLM_CACHE_TIMEOUT_MS) or an
entry that does not read back is a miss, and the call goes to the provider.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import cast

from django.conf import settings
from redis.exceptions import RedisError

from budget.ledger import record_cache_hit
from caching import counters
from caching.redis_client import cache_redis
from execution import events
from execution.llm.gateway import get_provider
from execution.llm.types import Call, LLMRequest, LLMResponse, Next, Usage

logger = logging.getLogger(__name__)

KEY_FORMAT = 1
"""Bumped when the key's or the value's layout changes: old entries are never read."""
PREFIX = "mge:llmcache"
KIND = "llm_response"


def cache_key(request: LLMRequest, provider: str) -> str:
    """The request's key: the same for requests that must get the same answer."""
    identity = {
        "format": KEY_FORMAT,
        "namespace": settings.MGE_LLM_CACHE_NAMESPACE,
        "provider": provider,
        # Where the answers come from: a stub or a proxy must not answer for the real API.
        "source": (
            (settings.ANTHROPIC_BASE_URL or "")
            if provider == "anthropic"
            else str(settings.MGE_OFFLINE_RESPONSES_DIR)
        ),
        "model": request.model,
        "system": request.system,
        "shared_context": request.shared_context,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "template": request.template_version,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{PREFIX}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def _plan_index(masterplan_id: str) -> str:
    return f"{PREFIX}:plan:{masterplan_id}"


def cache_stage(call: Call, next_stage: Next) -> LLMResponse:
    request = call.request
    if settings.MGE_LLM_CACHE == "off" or request.cache == "no-store":
        return next_stage(call)
    key = cache_key(request, get_provider().name)
    if request.cache != "no-cache":
        hit = lookup(key)
        if hit is not None:
            saved = hit.cost_usd or Decimal(0)
            events.emit("cache_hit", cache="llm_response", key=key, saved_usd=str(saved))
            counters.hit(KIND, request.masterplan_id, key, saved_micros=counters.micros(saved))
            if request.masterplan_id is not None:
                call.run_db(record_cache_hit, request, saved)
            return LLMResponse(
                text=hit.text, model=hit.model, usage=hit.usage, stop_reason=hit.stop_reason,
                cost_usd=Decimal(0), cache_hit=True,
            )  # fmt: skip
    events.emit("cache_miss", cache="llm_response", key=key, bypass=request.cache == "no-cache")
    response = next_stage(call)
    store(key, response, request)
    return response


def lookup(key: str) -> LLMResponse | None:
    """The kept answer, or None: not kept, unreadable (then dropped, to be rewritten), or
    Redis not answering in time."""
    try:
        raw = cast(bytes | None, cache_redis().get(key))
    except RedisError as error:
        logger.warning("LLM cache lookup skipped: %s", error)
        return None
    if raw is None:
        return None
    try:
        return _decode(raw)
    except (ValueError, KeyError, TypeError, InvalidOperation):
        logger.warning("LLM cache entry %s does not read back: dropped", key)
        with contextlib.suppress(RedisError):
            cache_redis().delete(key)
        return None


def _decode(raw: bytes) -> LLMResponse:
    value = json.loads(raw)
    usage = value["usage"]
    if not isinstance(value["text"], str) or not isinstance(value["model"], str):
        raise TypeError("text and model must be strings")
    return LLMResponse(
        text=value["text"],
        model=value["model"],
        # A field added to Usage since the entry was kept reads as 0.
        usage=Usage(**{name: int(usage.get(name, 0)) for name in asdict(Usage())}),
        stop_reason=str(value.get("stop_reason", "")),
        cost_usd=Decimal(value["cost_usd"]),
    )


def store(key: str, response: LLMResponse, request: LLMRequest) -> None:
    """Count the miss and keep the answer (with its TTL, and in its plan's index for
    invalidation), in one round trip; one too large, cut off at max_tokens, or an offline
    placeholder (no answer at all) is not kept."""
    value = json.dumps(
        {"text": response.text, "model": response.model, "usage": asdict(response.usage),
         "stop_reason": response.stop_reason, "cost_usd": str(response.cost_usd or 0)},
        ensure_ascii=False,
    ).encode()  # fmt: skip
    ttl = settings.MGE_LLM_CACHE_TTL_SECONDS
    try:
        pipe = cache_redis().pipeline(transaction=False)
        counters.add_to(pipe, KIND, request.masterplan_id, {"misses": 1})
        if len(value) > settings.MGE_LLM_CACHE_MAX_BYTES:
            counters.add_to(pipe, KIND, request.masterplan_id, {"too_large": 1})
        elif response.stop_reason != "max_tokens" and not response.placeholder:
            pipe.set(key, value, ex=ttl)
            counters.label_to(pipe, KIND, key, counters.llm_label(request), ttl)
            if request.masterplan_id is not None:
                pipe.sadd(_plan_index(request.masterplan_id), key)
                pipe.expire(_plan_index(request.masterplan_id), ttl)
            counters.add_to(pipe, KIND, request.masterplan_id, {"bytes_stored": len(value)})
        pipe.execute()
    except RedisError as error:
        logger.warning("LLM cache store skipped: %s", error)


def invalidate_masterplan(masterplan_id: str) -> int:
    """Drop every answer a plan's calls stored; returns how many."""
    client = cache_redis()
    index = _plan_index(masterplan_id)
    keys = list(cast(set[bytes], client.smembers(index)))
    if keys:
        client.delete(*keys)
    client.delete(index)
    return len(keys)
