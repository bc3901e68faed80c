"""`GET /healthz`: can this process reach its database and Redis right now?"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError
from rq import Worker

from mge_site.metrics import has_metrics_token
from mge_site.redis_connection import get_redis


def _check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "unreachable" to a probe
        return {"ok": False, "error": str(error).strip()}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


def _check_redis() -> dict[str, Any]:
    started = time.perf_counter()
    client = get_redis(timeout_seconds=1.0)
    try:
        client.ping()
        workers = Worker.count(connection=client)
    except RedisError as error:
        return {"ok": False, "error": str(error)}
    finally:
        client.close()
    return {
        "ok": True,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        "rq_workers": workers,
    }


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """ok or unhealthy for anyone (a probe needs no more); what was checked, with the
    errors and latencies, for a logged-in user or a caller with the metrics token."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(check["ok"] for check in checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "unhealthy"}
    if request.user.is_authenticated or has_metrics_token(request):
        body["checks"] = checks
    return JsonResponse(body, status=200 if healthy else 503)
