"""What an atom costs the control plane's CPU, one at a time and a hundred at once.

The plan of benchmarks/engine.py (10 waves; here 100 atoms a wave in one wave job), run in
this process by rq's SimpleWorker in burst mode against the Anthropic API stub answering
at once, twice: with the shared limit at 1 (one atom in flight: what an atom's own work
costs) and at 100 (the benchmark's concurrency in one process: what the threads add).
Prints the CPU per atom of each (user and system apart), their ratio, and the context
switches per atom. The baseline is the first run, in the same process.

    python benchmarks/engine_cpu.py            (make bench runs it)
"""

from __future__ import annotations

import os
import resource
import signal
from dataclasses import dataclass

from _services import (
    BASE_DIR,
    environment_for,
    free_loopback_port,
    fresh_database,
    layered_masterplan,
    setup_django,
    start_stub,
)

WAVES, ATOMS_PER_WAVE = 10, 100
DATABASE = "mge_bench_engine_cpu"
REDIS_URL = "redis://127.0.0.1:6379/13"


@dataclass(frozen=True)
class Usage:
    user_s: float
    system_s: float
    switches: int

    @classmethod
    def now(cls) -> Usage:
        usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
        return cls(usage.ru_utime, usage.ru_stime, usage.ru_nvcsw + usage.ru_nivcsw)

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.user_s - other.user_s,
            self.system_s - other.system_s,
            self.switches - other.switches,
        )


def run_plan(number: int, limit: int) -> Usage:
    import django_rq
    from django.conf import settings
    from rq import SimpleWorker

    from execution.actions import import_masterplan
    from execution.models import MasterPlan
    from execution.runtime.lifecycle import start_masterplan
    from mge_site.redis_connection import get_redis

    get_redis().flushdb()  # the limiter starts at its initial limit; no cached answers
    settings.MGE_CONCURRENCY_MIN = settings.MGE_CONCURRENCY_INITIAL = limit
    settings.MGE_CONCURRENCY_MAX = limit
    masterplan = import_masterplan(
        layered_masterplan(f"engine-cpu-{number}", WAVES, ATOMS_PER_WAVE)
    )
    queue = django_rq.get_queue("waves")
    worker = SimpleWorker([queue], connection=queue.connection)
    before = Usage.now()
    start_masterplan(masterplan.pk)
    worker.work(burst=True, logging_level="WARNING")
    used = Usage.now() - before
    masterplan.refresh_from_db()
    if masterplan.status != MasterPlan.Status.COMPLETED:
        raise SystemExit(f"benchmark plan ended {masterplan.status}: {masterplan.status_reason}")
    return used


def main() -> None:
    stub_port = free_loopback_port()
    environment = environment_for(
        DATABASE,
        REDIS_URL,
        stub_port,
        MGE_WAVE_SHARD_SIZE=str(ATOMS_PER_WAVE),
        MGE_WORKSPACE_ROOT=str(BASE_DIR / "var" / "bench-workspaces"),
        MGE_LOG_LEVEL="WARNING",
        MGE_RAMP_UP_INTERVAL_MS="0",
        MGE_RAMP_UP_JITTER_MS="0",
    )
    fresh_database(DATABASE, environment)
    setup_django(environment)
    import execution.tasks  # noqa: F401  (what a worker loads before its first job)

    stub = start_stub(stub_port, environment, "--latency-ms", "0")
    try:
        run_plan(0, 100)  # warm: imports, the SDK's client, the database's caches
        # Alternated, so a drift of the machine weighs on both alike.
        runs: dict[int, list[Usage]] = {1: [], 100: []}
        for number, limit in enumerate((1, 100, 100, 1), 1):
            runs[limit].append(run_plan(number, limit))
    finally:
        stub.send_signal(signal.SIGTERM)
        stub.wait(timeout=30)
    atoms = WAVES * ATOMS_PER_WAVE

    def per_atom_ms(limit: int, part: str) -> float:
        return sum(getattr(run, part) for run in runs[limit]) * 1000 / len(runs[limit]) / atoms

    for limit, name in ((1, "one_at_a_time"), (100, "hundred_at_once")):
        user, system = per_atom_ms(limit, "user_s"), per_atom_ms(limit, "system_s")
        switches = sum(run.switches for run in runs[limit]) / len(runs[limit]) / atoms
        print(f"{name}_cpu_ms_per_atom: {user + system:.2f}")
        print(f"{name}_user_ms_per_atom: {user:.2f}")
        print(f"{name}_system_ms_per_atom: {system:.2f}")
        print(f"{name}_context_switches_per_atom: {switches:.1f}")
    together = per_atom_ms(100, "user_s") + per_atom_ms(100, "system_s")
    alone = per_atom_ms(1, "user_s") + per_atom_ms(1, "system_s")
    print(f"concurrency_cpu_ratio: {together / alone:.3f}")


if __name__ == "__main__":
    os.chdir(BASE_DIR)
    main()
