"""The caches' own Redis client: a short timeout, so a slow Redis costs a call
milliseconds (a miss), not the shared client's ten seconds."""

from __future__ import annotations

from django.conf import settings
from redis import Redis

from mge_site.redis_connection import quick_redis


def cache_redis() -> Redis:
    """The client of this process (a forked worker makes its own)."""
    return quick_redis(settings.MGE_LLM_CACHE_TIMEOUT_MS / 1000)
