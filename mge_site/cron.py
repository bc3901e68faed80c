"""Periodic jobs run by the scheduler process (`manage.py rqcron mge_site.cron`).

Apps register their periodic jobs here with `rq.cron.register(func, queue_name=…,
interval=…)` (seconds).
"""

from __future__ import annotations

from django.conf import settings
from rq import cron

from budget.tasks import settle_expired_reservations
from caching.tasks import snapshot_cache_stats
from execution.runtime.concurrency import adjust_limit, sample_concurrency
from execution.runtime.maintenance import remove_orphan_workspaces
from execution.tasks import probe_provider, release_stale_atoms, requeue_lost_checks
from tracing.tasks import prune_old_traces

cron.register(release_stale_atoms, queue_name="default", interval=30)
cron.register(probe_provider, queue_name="default", interval=settings.MGE_LLM_PROBE_SECONDS)
cron.register(adjust_limit, queue_name="default", interval=settings.MGE_CONCURRENCY_ADJUST_SECONDS)
cron.register(
    sample_concurrency, queue_name="default", interval=settings.MGE_CONCURRENCY_SAMPLE_SECONDS
)
cron.register(settle_expired_reservations, queue_name="default", interval=30)
cron.register(requeue_lost_checks, queue_name="default", interval=60)
cron.register(remove_orphan_workspaces, queue_name="default", interval=3600)
cron.register(prune_old_traces, queue_name="default", interval=3600)
cron.register(snapshot_cache_stats, queue_name="default", interval=60)
