"""`GET /metrics`: Prometheus' text format, for a caller that sends the metrics token.

The scrape-time collectors query the database and Redis; the output is kept for
`METRICS_CACHE_SECONDS`, so however many scrapes arrive, each process queries at most once
per period.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

_lock = threading.Lock()
_cached: tuple[float, bytes] | None = None


def has_metrics_token(request: HttpRequest) -> bool:
    """The request carries the configured token (compared in constant time)."""
    token = settings.METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.strip().encode(), str(token).encode())
    )


def _from_loopback(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _scrape() -> bytes:
    global _cached
    with _lock:
        now = time.monotonic()
        if _cached is None or now - _cached[0] >= settings.METRICS_CACHE_SECONDS:
            _cached = (now, generate_latest(REGISTRY))
        return _cached[1]


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    allowed = has_metrics_token(request) if settings.METRICS_TOKEN else _from_loopback(request)
    if not allowed:
        response = HttpResponse(
            "401: send the metrics token as 'Authorization: Bearer <MGE_METRICS_TOKEN>'\n",
            status=401, content_type="text/plain; charset=utf-8",
        )  # fmt: skip
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(_scrape(), content_type=CONTENT_TYPE_LATEST)
