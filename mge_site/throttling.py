"""API rate limits (DRF throttles; rates from settings, counters in the shared Redis cache
so every web process counts together). An answer over a limit is 429 with Retry-After."""

from __future__ import annotations

from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from rest_framework.throttling import (
    AnonRateThrottle,
    BaseThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views loads
    from rest_framework.request import Request
    from rest_framework.views import APIView


class FailOpen(SimpleRateThrottle):
    """Redis unreachable: the request is let through, as the rest of the site stays
    readable when Redis is down (/healthz says so); a limit is not worth an outage."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError:
            return True


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
