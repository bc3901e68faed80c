"""The retrieval cache: the answers of the full-text searches that build atoms' context
(execution.context), in Redis for MGE_RETRIEVAL_CACHE_TTL_SECONDS.

The key (made by execution.context.build) is the normalised query and the version of the
corpus searched — a digest of its chunks — so a changed corpus is a new key: nothing is
invalidated by hand, and nothing stale is read. Like the response cache it never fails a
call: Redis not answering in time, or an entry that does not read back, is a miss.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import cast

from django.conf import settings
from redis.exceptions import RedisError

from caching import counters
from caching.redis_client import cache_redis
from execution.llm.prompts import Retrieved

logger = logging.getLogger(__name__)

KIND = "retrieval"
PREFIX = "mge:ragcache"


class RedisRetrievalCache:
    def get(self, key: str, masterplan_id: str) -> list[Retrieved] | None:
        try:
            raw = cast(bytes | None, cache_redis().get(f"{PREFIX}:{key}"))
        except RedisError as error:
            logger.warning("retrieval cache lookup skipped: %s", error)
            return None
        found = None if raw is None else _decode(key, raw)
        if found is None:
            counters.count(KIND, masterplan_id, misses=1)
        else:
            counters.hit(KIND, masterplan_id, key)
        return found

    def put(self, key: str, masterplan_id: str, chunks: list[Retrieved], about: str) -> None:
        value = json.dumps(
            [[chunk.kind, chunk.source, chunk.text, chunk.language] for chunk in chunks]
        ).encode()
        try:
            pipe = cache_redis().pipeline(transaction=False)
            ttl = settings.MGE_RETRIEVAL_CACHE_TTL_SECONDS
            pipe.set(f"{PREFIX}:{key}", value, ex=ttl)
            counters.label_to(pipe, KIND, key, {"atom": about, "chunks": str(len(chunks))}, ttl)
            counters.add_to(pipe, KIND, masterplan_id, {"bytes_stored": len(value)})
            pipe.execute()
        except RedisError as error:
            logger.warning("retrieval cache store skipped: %s", error)


def _decode(key: str, raw: bytes) -> list[Retrieved] | None:
    try:
        items = json.loads(raw)
        if not isinstance(items, list) or not all(
            isinstance(item, list) and len(item) == 4 for item in items
        ):
            raise ValueError("not a list of [kind, source, text, language]")
        return [Retrieved(*map(_text, item)) for item in items]
    except (ValueError, TypeError):
        logger.warning("retrieval cache entry %s does not read back: dropped", key)
        with contextlib.suppress(RedisError):
            cache_redis().delete(f"{PREFIX}:{key}")
        return None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a chunk's fields are strings")
    return value
