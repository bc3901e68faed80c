"""The caches' own Redis client: a short timeout, so a slow Redis costs a call
milliseconds (a miss), not the shared client's ten seconds."""

from __future__ import annotations

import os

from django.conf import settings
from redis import Redis

_clients: dict[tuple[int, str, int], Redis] = {}


def cache_redis() -> Redis:
    """The client of this process (a forked worker makes its own)."""
    timeout_ms = settings.MGE_LLM_CACHE_TIMEOUT_MS
    key = (os.getpid(), settings.REDIS_URL, timeout_ms)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=timeout_ms / 1000,
            socket_connect_timeout=timeout_ms / 1000,
            max_connections=64,
        )
    return client
