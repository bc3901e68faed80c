from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from redis import BlockingConnectionPool, Redis
from redis.exceptions import NoScriptError


def get_redis(*, timeout_seconds: float | None = 5.0) -> Redis:
    """A client for the configured Redis; the timeout keeps a dead server from hanging us."""
    return Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
    )


_shared: dict[tuple[int, str], Redis] = {}


def shared_redis() -> Redis:
    """One client (with its connection pool) per process and URL, for hot paths.

    Keyed by pid as well: a pool inherited through fork must not be shared with the parent.
    """
    key = (os.getpid(), settings.REDIS_URL)
    client = _shared.get(key)
    if client is None:
        # Hundreds of atom threads share it: when every connection is busy, wait for one
        # instead of failing the call.
        pool = BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=64,
            timeout=30,
            socket_connect_timeout=5,
            socket_timeout=10,
        )
        client = _shared[key] = Redis(connection_pool=pool)
    return client


_quick: dict[tuple[int, str, float], Redis] = {}


def quick_redis(timeout_seconds: float) -> Redis:
    """A client of this process with a short timeout, where a slow Redis must cost a
    request milliseconds rather than the shared client's ten seconds: the caches (a miss),
    the API's rate limits (let through). Keyed by pid too, as `shared_redis`."""
    key = (os.getpid(), settings.REDIS_URL, timeout_seconds)
    client = _quick.get(key)
    if client is None:
        client = _quick[key] = Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            max_connections=64,
        )
    return client


class LuaScript:
    """A Lua script run by its SHA (loaded on first use, and again after a server restart
    or a SCRIPT FLUSH). A plain EVALSHA: redis-py's Script object goes through argument
    inspection on every call, a few percent of a worker's CPU where every LLM call runs
    four scripts (benchmarks/README.md)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, client: Redis, keys: Sequence[str], args: Sequence[object]) -> Any:
        try:
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
