"""RQ entry points: thin, they take ids and call the engine."""

from __future__ import annotations

from django.db import transaction

from execution import engine
from execution.control import enqueue_wave
from execution.models import MasterPlan


def run_wave(wave_id: str, shard: int = 0, shards: int = 1) -> dict[str, int]:
    return engine.run_wave(wave_id, shard, shards)


def release_stale_atoms() -> list[str]:
    """Periodic: atoms whose worker died run again on a fresh job. Returns the plans."""
    masterplan_ids = engine.release_stale_atoms()
    for masterplan in MasterPlan.objects.filter(
        pk__in=masterplan_ids, status=MasterPlan.Status.RUNNING
    ):
        with transaction.atomic():
            wave = engine.open_wave(masterplan)
        if wave:
            enqueue_wave(wave)
    return [str(masterplan_id) for masterplan_id in masterplan_ids]
