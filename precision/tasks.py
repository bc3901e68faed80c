"""RQ entry points of the precision app."""

from __future__ import annotations

from execution.models import MasterPlan
from mge_site.redis_connection import get_redis
from precision.scoring import take_snapshot
from precision.validation import ALL_LEVELS, validate

JOB_TIMEOUT_SECONDS = 1800


def validate_masterplan(masterplan_id: str) -> str:
    """L1–L4 and a snapshot, one validation of a plan at a time (two POSTs a moment apart
    run one after the other)."""
    with get_redis().lock(f"mge:precision:validate:{masterplan_id}", timeout=JOB_TIMEOUT_SECONDS):
        masterplan = MasterPlan.objects.get(pk=masterplan_id)
        run = validate(masterplan, ALL_LEVELS)
        snapshot = take_snapshot(masterplan, run=run)
    return f"{run.message}; precision {snapshot.score:.1%}"
