from __future__ import annotations

from django.conf import settings
from redis import Redis


def get_redis(*, timeout_seconds: float | None = 5.0) -> Redis:
    """A client for the configured Redis; the timeout keeps a dead server from hanging us."""
    return Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
    )
