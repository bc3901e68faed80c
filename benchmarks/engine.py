"""Engine makespan against its lower bound.

A generated 1,000-atom masterplan in 10 waves of 100 (each atom depends on one of the
wave before), concurrency limit 100, the Anthropic API stub answering after 1 s, two RQ
worker processes, PostgreSQL and Redis. The lower bound is what a perfect scheduler needs:
Σ over waves of ceil(atoms / limit) × latency. Also the CPU the worker processes spend
per atom (user + system, from start to end). Prints one figure per line.

Tracing's overhead in the same run: the plan runs six times, tracing on, off, off, on,
on, off (pairs in alternating order, so a drift of the machine weighs on both alike);
the engine's figures are the means of the runs with tracing on (the default),
`tracing_overhead_ratio` their makespan ÷ the runs' with it off.

    python benchmarks/engine.py            (make bench runs it)
"""

from __future__ import annotations

import math
import signal
from statistics import mean

from _services import (
    BASE_DIR,
    RunFigures,
    environment_for,
    free_loopback_port,
    fresh_database,
    layered_masterplan,
    run_on_workers,
    setup_django,
    start_stub,
)

WAVES, ATOMS_PER_WAVE, LIMIT, LATENCY_S, WORKERS = 10, 100, 100, 1.0, 2
DATABASE = "mge_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"


def main() -> None:
    stub_port = free_loopback_port()
    environment = environment_for(
        DATABASE,
        REDIS_URL,
        stub_port,
        MGE_CONCURRENCY_INITIAL=str(LIMIT),
        # Two shards a wave, so both workers share it; each shard gets half the limit.
        MGE_WAVE_SHARD_SIZE=str(math.ceil(ATOMS_PER_WAVE / WORKERS)),
        MGE_WORKSPACE_ROOT=str(BASE_DIR / "var" / "bench-workspaces"),
        MGE_LOG_LEVEL="WARNING",
        # The engine's own overhead against the lower bound: the ramp-up's steps would
        # measure the herd guard instead (benchmarks/concurrency.py runs with it).
        MGE_RAMP_UP_INTERVAL_MS="0",
        MGE_RAMP_UP_JITTER_MS="0",
    )
    fresh_database(DATABASE, environment)
    setup_django(environment)
    from execution.actions import import_masterplan
    from execution.models import MasterPlan
    from mge_site.redis_connection import get_redis

    latency_ms = str(int(LATENCY_S * 1000))
    stub = start_stub(stub_port, environment, "--latency-ms", latency_ms)
    runs: dict[bool, list[RunFigures]] = {True: [], False: []}
    try:
        for number, tracing in enumerate((True, False, False, True, True, False), 1):
            # A fresh Redis each time: the second run's prompts would be answered from the
            # response cache, and the limiter starts where the first left it.
            get_redis().flushdb()
            masterplan = import_masterplan(
                layered_masterplan(f"engine-benchmark-{number}", WAVES, ATOMS_PER_WAVE)
            )
            run_environment = {**environment, "MGE_TRACING": str(tracing).lower()}
            runs[tracing].append(run_on_workers(masterplan, run_environment, workers=WORKERS))
            if masterplan.status != MasterPlan.Status.COMPLETED:
                raise SystemExit(
                    f"benchmark plan ended {masterplan.status}: {masterplan.status_reason}"
                )
    finally:
        stub.send_signal(signal.SIGTERM)
        stub.wait(timeout=30)
    lower_bound = WAVES * math.ceil(ATOMS_PER_WAVE / LIMIT) * LATENCY_S
    atoms = WAVES * ATOMS_PER_WAVE
    makespan = {tracing: mean(run.makespan_s for run in runs[tracing]) for tracing in runs}
    cpu = {tracing: mean(run.worker_cpu_s for run in runs[tracing]) for tracing in runs}
    print(f"engine_makespan_s: {makespan[True]:.2f}")
    print(f"engine_lower_bound_s: {lower_bound:.2f}")
    print(f"engine_makespan_ratio: {makespan[True] / lower_bound:.3f}")
    print(f"control_plane_cpu_ms_per_atom: {cpu[True] * 1000 / atoms:.2f}")
    print(f"tracing_overhead_ratio: {makespan[True] / makespan[False]:.3f}")
    print(f"tracing_cpu_overhead_ratio: {cpu[True] / cpu[False]:.3f}")


if __name__ == "__main__":
    main()
