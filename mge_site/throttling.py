"""API rate limits (DRF throttles; rates from settings, each caller's recent requests in
the shared Redis so every web process counts together). An answer over a limit is 429
with Retry-After."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from rest_framework.throttling import (
    AnonRateThrottle,
    BaseThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

from mge_site.redis_connection import LuaScript, quick_redis

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views loads
    from rest_framework.request import Request
    from rest_framework.views import APIView

# DRF's sliding window (the requests of the last `duration` seconds), as one atomic step:
# DRF's own reads the caller's history from the cache and writes it back, two round trips
# through a new Redis client each and a pickle — a third of an API answer's CPU
# (benchmarks/README.md, many_plans.py) — and two processes could both let a last
# request through.
_WINDOW = LuaScript("""
-- KEYS: the caller's window   ARGV: now, duration (s), requests allowed, member
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return false
""")


class FailOpen(SimpleRateThrottle):
    """Redis unreachable: the request is let through, as the rest of the site stays
    readable when Redis is down (/healthz says so); a limit is not worth an outage."""

    _wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        allowed, duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if allowed is None or duration is None or key is None:
            return True
        now = self.timer()
        try:
            oldest = _WINDOW(
                # A hung Redis must not hang every API request behind its throttle.
                quick_redis(timeout_seconds=0.5),
                keys=[f"mge:throttle:{key}"],
                args=[repr(now), duration, allowed, uuid.uuid4().hex],
            )
        except RedisError:
            return True
        if oldest is None:
            return True
        self._wait = max(0.0, float(oldest) + duration - now)
        return False

    def wait(self) -> float | None:
        return self._wait


class AnonThrottle(FailOpen, AnonRateThrottle):
    pass


class UserThrottle(FailOpen, UserRateThrottle):
    pass


class SensitivePerUserThrottle(FailOpen):
    """Confirming an override and issuing codes: a few tries a minute for each user, so a
    six-digit code cannot be guessed by trying."""

    scope = "sensitive"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SensitivePerMasterPlanThrottle(FailOpen):
    """The same, for each masterplan whoever asks: several accounts cannot share the work."""

    scope = "sensitive"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        plan = view.kwargs.get("masterplan_id", "")
        return self.cache_format % {"scope": f"{self.scope}_plan", "ident": plan}


SENSITIVE: list[type[BaseThrottle]] = [
    AnonThrottle,
    UserThrottle,
    SensitivePerUserThrottle,
    SensitivePerMasterPlanThrottle,
]
"""The throttles of a sensitive view: the default ones and the strict scope."""
