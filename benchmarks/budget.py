"""Budget overshoot under a 200-way race: the seed's check-then-charge against reservations.

200 concurrent LLM calls (4 worker processes × 50 threads, sharing only PostgreSQL and
Redis) against a hard cap that fits about 50 of them. Every call goes through the real
`anthropic` SDK to the loopback stub (200 ms). The seed's scheme reads the spend, calls if
it looks affordable, and charges afterwards; the reservation scheme is the production
path (`gateway.complete` with `budget_guard`). Prints one figure per line.

    python benchmarks/budget.py            (make bench runs it)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from _services import BASE_DIR, environment_for, free_loopback_port, fresh_database, setup_django

WORKERS, THREADS, FITTING_CALLS, LATENCY_MS = 4, 50, 50, 200
DATABASE = "mge_bench_budget"
REDIS_URL = "redis://127.0.0.1:6379/13"
MODEL = "claude-haiku-4-5"

if TYPE_CHECKING:
    from budget.counters import BudgetCounters, MasterPlanId, Refusal
    from execution.llm.types import LLMRequest

T = TypeVar("T")


def request_for(masterplan_id: str, number: int) -> LLMRequest:
    from execution.llm.types import LLMRequest

    prompt = f"Masterplan: race\nAtom: call{number}\nFile: race/call{number}.py\nLanguage: python"
    return LLMRequest(
        model=MODEL,
        system="Write one small module.",
        messages=[{"role": "user", "content": prompt}],
        max_tokens=64,
        masterplan_id=masterplan_id,
    )


# --- a worker process ----------------------------------------------------------------------


def worker(mode: str, masterplan_id: str, first: int) -> None:
    """Runs THREADS calls at once; prints a JSON summary."""
    from django.db import connection

    from budget.counters import BudgetCounters
    from budget.guardrails import BudgetExceeded
    from budget.ledger import record_cost
    from budget.models import CostEntry
    from budget.pricing import cost_of
    from execution.llm import gateway
    from execution.models import MasterPlan

    cap = MasterPlan.objects.get(pk=masterplan_id).budget_hard_cap_usd
    connection.close()
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)
    # Like the engine's database lane: a few connections per process, not one per thread.
    slots = threading.BoundedSemaphore(8)

    def run_db(function: Callable[..., T], *args: Any) -> T:
        with slots:
            try:
                return function(*args)
            finally:
                connection.close()

    def check_then_charge(number: int) -> str:
        # The seed's sketch: is there budget left? then call; then charge.
        request = request_for(masterplan_id, number)
        spent = run_db(CostEntry.objects.filter(masterplan_id=masterplan_id).total)
        if spent >= cap:
            return "refused"
        response = gateway.get_provider().complete(request)
        cost = cost_of(MODEL, response.usage)
        run_db(record_cost, request, response, cost, Decimal(0), f"c{number}")
        return "called"

    def reserved(number: int) -> str:
        try:
            gateway.complete(request_for(masterplan_id, number), run_db=run_db)
        except BudgetExceeded:
            return "refused"
        return "called"

    call = check_then_charge if mode == "check_then_charge" else reserved
    # Time each reservation made in the race (the Lua script's round trip), from outside.
    reserve_ms: list[float] = []
    original_reserve = BudgetCounters.reserve

    def timed_reserve(
        self: BudgetCounters,
        masterplan_id: MasterPlanId,
        amount: Decimal,
        ttl_seconds: float,
        holder: str = "{}",
    ) -> str | Refusal:
        started = time.perf_counter()
        try:
            return original_reserve(self, masterplan_id, amount, ttl_seconds, holder)
        finally:
            with lock:
                reserve_ms.append((time.perf_counter() - started) * 1000)

    BudgetCounters.reserve = timed_reserve  # type: ignore[method-assign]

    def run(number: int) -> None:
        start.wait()
        outcome = call(number)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(first + n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"called": outcomes.count("called"), "reserve_ms": reserve_ms}))


def reservation_sampler(masterplan_id: str) -> None:
    """Reserve/settle pairs from 4 threads, every sampler process at once (about 1,500
    reservations a second on one plan's keys): the reservation's latency under contention."""
    from budget.counters import BudgetCounters

    counters = BudgetCounters()
    samples: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        mine = []
        for _ in range(500):
            started = time.perf_counter()
            reservation = counters.reserve(masterplan_id, Decimal("0.000001"), 60)
            assert isinstance(reservation, str)  # the caps are set far above what this spends
            mine.append((time.perf_counter() - started) * 1000)
            counters.settle(masterplan_id, reservation, Decimal(0))
            # Workers reserve once per LLM call, not in a tight loop: a loop would measure
            # four processes starving each other of the 2 cores, not the reservation.
            time.sleep(0.002)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(samples))


# --- the race --------------------------------------------------------------------------------


def race(mode: str, masterplan_id: str, environment: dict[str, str]) -> list[float]:
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", mode, masterplan_id, str(n * THREADS)],
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    reserve_ms: list[float] = []
    for process in processes:
        output, _ = process.communicate(timeout=300)
        if process.returncode:
            raise SystemExit(f"a {mode} worker failed")
        reserve_ms += json.loads(output.strip().splitlines()[-1])["reserve_ms"]
    return reserve_ms


def main() -> None:
    stub_port = free_loopback_port()
    environment = environment_for(DATABASE, REDIS_URL, stub_port, MGE_LOG_LEVEL="ERROR")
    fresh_database(DATABASE, environment)
    setup_django(environment)
    from budget.models import CostEntry
    from execution.actions import import_masterplan
    from execution.llm import gateway
    from execution.models import MasterPlan
    from mge_site.redis_connection import get_redis

    get_redis().flushdb()
    stub = subprocess.Popen(
        [sys.executable, "manage.py", "mge", "llm-stub", "--port", str(stub_port),
         "--latency-ms", str(LATENCY_MS)],
        cwd=BASE_DIR, env=environment, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert stub.stdout is not None  # stdout=PIPE
    stub.stdout.readline()
    try:
        one_call = gateway.get_provider().complete(request_for("none", 0))
        from budget.pricing import cost_of

        call_cost = cost_of(MODEL, one_call.usage)
        cap = call_cost * FITTING_CALLS
        figures = {}
        for mode in ("check_then_charge", "reservation"):
            document = (BASE_DIR / "examples" / "slugkit.md").read_text()
            masterplan = import_masterplan(document.replace("name: slugkit", f"name: {mode}"))
            MasterPlan.objects.filter(pk=masterplan.pk).update(
                status=MasterPlan.Status.RUNNING,
                budget_hard_cap_usd=cap,
                budget_soft_cap_usd=cap,
            )
            race_samples = race(mode, str(masterplan.pk), environment)
            spent = CostEntry.objects.filter(masterplan=masterplan).total()
            figures[mode] = (spent, masterplan)
        sampled = MasterPlan.objects.get(name="reservation").pk
        from budget.counters import BudgetCounters

        BudgetCounters().set_caps(sampled, Decimal(10**6), Decimal(10**6))
        samplers = [
            subprocess.Popen(
                [sys.executable, __file__, "--sample", str(sampled)],
                env=environment,
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(WORKERS)
        ]
        samples = [ms for process in samplers for ms in json.loads(process.communicate()[0])]
    finally:
        stub.terminate()
        stub.wait(timeout=10)
    check_spent = figures["check_then_charge"][0]
    reservation_spent, reservation_plan = figures["reservation"]
    reservation_plan.refresh_from_db()
    p99 = statistics.quantiles(samples, n=100)[98]
    print(f"hard_cap_usd: {cap}")
    print(f"check_then_charge_overshoot_usd: {max(Decimal(0), check_spent - cap):.6f}")
    print(f"reservation_overshoot_usd: {max(Decimal(0), reservation_spent - cap):.6f}")
    print(f"reservation_p99_ms: {p99:.3f}")
    print(f"race_reserve_p99_ms: {statistics.quantiles(race_samples, n=100)[98]:.3f}")
    print(f"unused_at_pause_usd: {cap - reservation_spent:.6f}")
    print(f"reservation_paused: {reservation_plan.status == 'paused_budget'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sample":
        setup_django({})
        reservation_sampler(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker":
        setup_django({})
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
