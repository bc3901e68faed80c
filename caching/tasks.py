"""The scheduler's cache analytics job (mge_site.cron)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from caching.snapshots import prune_snapshots, take_snapshots


def snapshot_cache_stats() -> int:
    """Copy the counters to the database and drop the snapshots as old as the traces the
    scheduler prunes: the two are read together (MGE_TRACE_RETENTION_DAYS)."""
    prune_snapshots(dt.timedelta(days=settings.MGE_TRACE_RETENTION_DAYS))
    return take_snapshots()
