"""The scheduler's trace retention job (mge_site.cron)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from tracing.service import prune


def prune_old_traces() -> int:
    return prune(dt.timedelta(days=settings.MGE_TRACE_RETENTION_DAYS))
