"""RQ entry points: thin, they take ids and call the engine or the lifecycle."""

from __future__ import annotations

from execution import events
from execution.runtime import checks, engine, lifecycle, provider_probe
from execution.runtime.waves import release_stale_atoms as release_lapsed_leases


def run_wave(wave_id: str, shard: int = 0, shards: int = 1) -> dict[str, int]:
    try:
        return engine.run_wave(wave_id, shard, shards)
    finally:
        events.flush()


def run_check(wave_check_id: str) -> str:
    """A registered check's job after a wave: its verdict, then what it means for the plan."""
    row = checks.evaluate(wave_check_id)
    return "none: nothing to decide now" if row is None else lifecycle.check_decided(row)


def release_stale_atoms() -> list[str]:
    """Periodic: atoms whose worker died run again on a fresh job. Returns the plans."""
    masterplan_ids = release_lapsed_leases()
    for masterplan_id in masterplan_ids:
        lifecycle.advance(masterplan_id)
    return [str(masterplan_id) for masterplan_id in masterplan_ids]


def requeue_lost_checks() -> list[str]:
    """Periodic: checks whose job was lost on its way run again, and plans whose checks
    decided but did not move on (the queue failed then) move on."""
    return sorted({*lifecycle.requeue_lost_checks(), *lifecycle.advance_stalled_plans()})


def probe_provider() -> list[str]:
    """Periodic: plans paused because their provider did not answer resume once it does.
    Returns the plans resumed."""
    return provider_probe.resume_plans_the_provider_answers()
