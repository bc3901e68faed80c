"""A fixed concurrency limit against the adaptive controller, on a provider that refuses.

The Anthropic API stub models a provider with a capacity of 40 concurrent requests and
200 ms latency; a request beyond capacity is answered at once with 429 and
`retry-after: 1`. The same 2,000-atom masterplan (4 waves of 500) runs four times in one
run (fixed, adaptive, adaptive, fixed), each time with two RQ worker processes, the
scheduler, PostgreSQL, Redis and the SDK's normal retries (2):

(a) fixed — the limit pinned at 100 (min = max = 100) and no ramp-up: the seed's old
    `Semaphore(100)`, shared here across the workers;
(b) adaptive — the defaults: start at 100, a 429 cuts to 90 % of what is in flight
    (once per congestion event), successes probe upwards but, for 30 s, not up to where the
    provider refused again, waves admitted in steps.

Prints makespan, requests, 429s and failed atoms for both (the mean of their two runs),
then the ratios of the totals; adaptive_failed_atoms is the most of either adaptive run.

    python benchmarks/concurrency.py        (make bench runs it)
"""

from __future__ import annotations

import signal

from _services import (
    BASE_DIR,
    environment_for,
    free_loopback_port,
    fresh_database,
    layered_masterplan,
    run_on_workers,
    setup_django,
    start_stub,
    stub,
    wait_for_stub,
)

WAVES, ATOMS_PER_WAVE, WORKERS = 4, 500, 2
CAPACITY, LATENCY_MS = 40, 200
DATABASE = "mge_bench_concurrency"
REDIS_URL = "redis://127.0.0.1:6379/13"
FIXED = {
    "MGE_CONCURRENCY_INITIAL": "100",
    "MGE_CONCURRENCY_MIN": "100",
    "MGE_CONCURRENCY_MAX": "100",
    "MGE_RAMP_UP_INTERVAL_MS": "0",
    "MGE_RAMP_UP_JITTER_MS": "0",
}
ADAPTIVE: dict[str, str] = {}


def run(label: str, settings: dict[str, str], base: dict[str, str], stub_port: int) -> dict:
    from execution.actions import import_masterplan
    from execution.models import Atom
    from mge_site.redis_connection import get_redis

    get_redis().flushdb()  # a fresh limiter, queue and budget counters
    stub(stub_port, "/_stub/reset", {})
    stub(stub_port, "/_stub/config", {"capacity": CAPACITY, "latency_ms": LATENCY_MS})
    masterplan = import_masterplan(
        layered_masterplan(f"concurrency-{label}", WAVES, ATOMS_PER_WAVE)
    )
    makespan = run_on_workers(
        masterplan, {**base, **settings}, workers=WORKERS, queues=("waves", "default"),
        scheduler=True,
    ).makespan_s  # fmt: skip
    stats = stub(stub_port, "/_stub/stats")
    completed = masterplan.atoms.filter(status=Atom.Status.COMPLETED).count()
    return {
        "makespan_s": makespan,
        "requests": stats["requests"],
        "429s": stats["by_status"].get("429", 0),
        "failed_atoms": masterplan.atoms.filter(status=Atom.Status.FAILED).count(),
        "completed_atoms": completed,
    }


def main() -> None:
    stub_port = free_loopback_port()
    base = environment_for(
        DATABASE,
        REDIS_URL,
        stub_port,
        MGE_WAVE_SHARD_SIZE=str(ATOMS_PER_WAVE // WORKERS),  # each wave: one job per worker
        MGE_WORKSPACE_ROOT=str(BASE_DIR / "var" / "bench-workspaces"),
        MGE_LOG_LEVEL="WARNING",
    )
    fresh_database(DATABASE, base)
    setup_django(base)
    stub_process = start_stub(stub_port, base)
    # fixed, adaptive, adaptive, fixed: a drift of the machine's speed during the run
    # (other load, CPU boost) weighs on both alike instead of on whichever ran last.
    runs: dict[str, list[dict]] = {"fixed": [], "adaptive": []}
    try:
        wait_for_stub(stub_port)
        for label in ("fixed", "adaptive", "adaptive", "fixed"):
            settings = FIXED if label == "fixed" else ADAPTIVE
            runs[label].append(run(label, settings, base, stub_port))
    finally:
        stub_process.send_signal(signal.SIGTERM)
        stub_process.wait(timeout=30)
    total = {label: {key: sum(r[key] for r in rs) for key in rs[0]} for label, rs in runs.items()}
    for label, result in total.items():
        count = len(runs[label])
        print(f"{label}_makespan_s: {result['makespan_s'] / count:.2f}")
        print(f"{label}_requests: {result['requests'] / count:.0f}")
        print(f"{label}_429s: {result['429s'] / count:.0f}")
        print(f"{label}_failed_atoms: {result['failed_atoms'] / count:.1f}")
        print(f"{label}_completed_atoms: {result['completed_atoms'] / count:.0f}")
    fixed, adaptive = total["fixed"], total["adaptive"]
    print(f"makespan_ratio: {adaptive['makespan_s'] / fixed['makespan_s']:.3f}")
    # The fixed run's failed atoms block their dependants: it finishes with less work
    # done. Completed atoms per second compare the work (> 1: adaptive does more per s).
    rate = {label: r["completed_atoms"] / r["makespan_s"] for label, r in total.items()}
    print(f"completed_per_s_ratio: {rate['adaptive'] / rate['fixed']:.3f}")
    print(f"adaptive_429_share: {adaptive['429s'] / max(1, adaptive['requests']):.4f}")
    print(f"adaptive_failed_atoms: {max(r['failed_atoms'] for r in runs['adaptive'])}")


if __name__ == "__main__":
    main()
