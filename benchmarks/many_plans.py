"""Many masterplans at once: is the shared limit filled, and does the site stay responsive?

Ten generated plans of 50 atoms (5 waves of 10, each atom depending on its twin in the
wave before) are started together on `make run`'s process layout, read from the Procfile —
gunicorn, the RQ worker (two of them, as an operator scales it), the scheduler — against
the Anthropic API stub answering after 1 s with room for 60 concurrent requests (beyond
it, 429), the limit starting at 100, while 8 clients in a second process read the plans'
gate status, budget and progress through the API.

Twice in one run: with the worker of before (`rq.worker.Worker`, one job at a time per
process: the baseline) and with the Procfile's own (`ConcurrentWorker`). Prints, for the
Procfile's worker:

- many_plans_makespan_ratio: the makespan ÷ the lower bound (Σ over wave levels of
  ceil(runnable atoms / min(limit, capacity)) × latency);
- in_flight_fill: the most requests the stub held at once ÷ min(limit, capacity), and
  in_flight_mean_fill: the mean of 10 samples a second while at least that many atoms
  could run;
- api_p95_loaded_over_idle: the API's p95 while the plans run ÷ the same before they start;
- web_cpu_ms_per_request: the gunicorn workers' CPU (user + system) while loaded ÷ the
  requests they answered;
- ledger_equals_provider: the ledger's total is what the stub billed, to the micro-dollar.

The baseline's makespan ratio and fill come first, for comparison.

    python benchmarks/many_plans.py        (make bench runs it)
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from statistics import mean
from typing import Any

from _services import (
    BASE_DIR,
    cpu_seconds,
    environment_for,
    free_loopback_port,
    fresh_database,
    layered_masterplan,
    setup_django,
    start_stub,
    stub,
)

PLANS, WAVES, ATOMS_PER_WAVE = 10, 5, 10
LIMIT, CAPACITY, LATENCY_S = 100, 60, 1.0
WORKERS, CLIENTS, IDLE_SECONDS = 2, 8, 8
DATABASE = "mge_bench_many_plans"
REDIS_URL = "redis://127.0.0.1:6379/9"
BASELINE_WORKER = "rq.worker.Worker"


# --- the load client (a second process) -----------------------------------------------------


def load_client(port: int, token: str, plan_ids: list[str]) -> None:
    """Until SIGTERM: CLIENTS threads, each on its own keep-alive connection, asking in turn
    for every plan's gate status, budget and progress. Prints the latencies (ms) as JSON."""
    paths = [
        path
        for plan in plan_ids
        for path in (
            f"/api/v2/testing/gate-status/{plan}",
            f"/api/v2/execution/budget/{plan}",
            f"/api/v2/execution/masterplans/{plan}/progress",
        )
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[str] = []

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Token {token}"}
        index = number
        while not stop.is_set():
            path = paths[index % len(paths)]
            index += CLIENTS
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            latencies[number].append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                errors.append(f"{response.status} {path}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join()
    print(json.dumps({"ms": [ms for each in latencies for ms in each], "errors": errors[:5]}))


class LoadClient:
    def __init__(self, port: int, token: str, plan_ids: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--load", str(port), token, *plan_ids],
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
        )

    def stop(self) -> list[float]:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=60)
        result = json.loads(out)
        if result["errors"]:
            raise SystemExit(f"the API answered errors under load: {result['errors']}")
        return list(result["ms"])


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


# --- the site's processes ---------------------------------------------------------------------


def procfile(port: int, worker_class: str | None) -> dict[str, str]:
    """The Procfile's commands, the worker's class swapped for the baseline's."""
    commands = {}
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        command = command.strip().replace("$PORT", str(port))
        if name == "worker" and worker_class:
            command = re.sub(r"--worker-class \S+", f"--worker-class {worker_class}", command)
        commands[name] = command.replace("python ", f"{sys.executable} ", 1)
    return commands


def web_worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


class Site:
    def __init__(self, environment: dict[str, str], worker_class: str | None) -> None:
        self.port = free_loopback_port()
        commands = procfile(self.port, worker_class)
        environment = {**environment, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        quiet: dict[str, Any] = {
            "cwd": BASE_DIR, "env": environment, "shell": True,
            "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
        }  # fmt: skip
        # exec: the shell becomes the command, so its pid is gunicorn's master.
        self.web = subprocess.Popen(f"exec {commands['web']}", **quiet)
        self.others = [subprocess.Popen(f"exec {commands['worker']}", **quiet)
                       for _ in range(WORKERS)]  # fmt: skip
        self.others.append(subprocess.Popen(f"exec {commands['scheduler']}", **quiet))
        self._wait_for_web()

    def _wait_for_web(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not answer") from None
                time.sleep(0.2)

    def web_cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in web_worker_pids(self.web.pid))

    def stop(self) -> None:
        for process in [self.web, *self.others]:
            process.send_signal(signal.SIGTERM)
        for process in [self.web, *self.others]:
            process.wait(timeout=60)


# --- one run ----------------------------------------------------------------------------------


def run(label: str, environment: dict[str, str], stub_port: int, worker_class: str | None,
        token: str) -> dict[str, float]:  # fmt: skip
    from execution.actions import import_masterplan
    from execution.models import MasterPlan
    from execution.runtime.lifecycle import start_masterplan
    from mge_site.redis_connection import get_redis

    get_redis().flushdb()  # a fresh limiter, queues and caches
    stub(stub_port, "/_stub/reset", {})
    stub(stub_port, "/_stub/config", {"capacity": CAPACITY, "latency_ms": int(LATENCY_S * 1000)})
    plans = [
        import_masterplan(layered_masterplan(f"many-{label}-{n}", WAVES, ATOMS_PER_WAVE))
        for n in range(PLANS)
    ]
    plan_ids = [str(plan.pk) for plan in plans]
    site = Site(environment, worker_class)
    try:
        time.sleep(3)  # the workers up
        idle = LoadClient(site.port, token, plan_ids)
        time.sleep(IDLE_SECONDS)
        idle_ms = idle.stop()
        loaded = LoadClient(site.port, token, plan_ids)
        time.sleep(1)
        web_cpu_before = site.web_cpu_seconds()
        started = time.monotonic()
        for plan in plans:
            start_masterplan(plan.pk)
        fill_samples = []
        while MasterPlan.objects.filter(pk__in=plan_ids, status=MasterPlan.Status.RUNNING).exists():
            if runnable_atoms(plan_ids) >= min(LIMIT, CAPACITY):
                fill_samples.append(stub(stub_port, "/_stub/stats")["in_flight"])
            if time.monotonic() > started + 600:
                raise SystemExit(f"{label}: the plans did not finish in 600 s")
            time.sleep(0.1)
        makespan = time.monotonic() - started
        web_cpu = site.web_cpu_seconds() - web_cpu_before
        loaded_ms = loaded.stop()
    finally:
        site.stop()
    not_completed = MasterPlan.objects.filter(pk__in=plan_ids).exclude(
        status=MasterPlan.Status.COMPLETED
    )
    unfinished = not_completed.first()
    if unfinished is not None:
        raise SystemExit(f"{label}: a plan ended {unfinished.status}: {unfinished.status_reason}")
    stats = stub(stub_port, "/_stub/stats")
    room = min(LIMIT, CAPACITY)
    lower_bound = WAVES * math.ceil(PLANS * ATOMS_PER_WAVE / room) * LATENCY_S
    return {
        "makespan_s": makespan,
        "makespan_ratio": makespan / lower_bound,
        "in_flight_fill": stats["max_in_flight"] / room,
        "in_flight_mean_fill": mean(fill_samples) / room if fill_samples else 0.0,
        "api_p95_idle_ms": p95(idle_ms),
        "api_p95_loaded_ms": p95(loaded_ms),
        "web_cpu_ms_per_request": web_cpu * 1000 / max(1, len(loaded_ms)),
        "requests_429": stats["by_status"].get("429", 0),
        "ledger_equals_provider": ledger_equals_provider(plan_ids, stats),
    }


def runnable_atoms(plan_ids: list[str]) -> int:
    """The unfinished atoms of each plan's open wave (queued or running): what could run
    now, had the workers room."""
    from execution.models import Atom, Wave

    open_waves: dict[Any, Any] = {}
    for plan, wave in (
        Wave.objects.filter(masterplan_id__in=plan_ids)
        .exclude(status__in=[Wave.Status.COMPLETED, Wave.Status.FAILED])
        .order_by("masterplan_id", "number")
        .values_list("masterplan_id", "pk")
    ):
        open_waves.setdefault(plan, wave)
    return Atom.objects.filter(
        wave_id__in=open_waves.values(), status__in=[Atom.Status.PENDING, Atom.Status.RUNNING]
    ).count()


def ledger_equals_provider(plan_ids: list[str], stats: dict[str, Any]) -> bool:
    from budget.models import CostEntry
    from budget.pricing import cost_of
    from execution.llm.types import Usage

    billed = sum(
        (cost_of(model, Usage(**usage), batch=batch) for model, usage, _, batch in stats["billed"]),
        Decimal(0),
    )
    ledger = sum(
        CostEntry.objects.filter(masterplan_id__in=plan_ids).values_list("cost_usd", flat=True),
        Decimal(0),
    )
    return bool(billed) and billed == ledger


def main() -> None:
    stub_port = free_loopback_port()
    environment = environment_for(
        DATABASE,
        REDIS_URL,
        stub_port,
        MGE_CONCURRENCY_INITIAL=str(LIMIT),
        MGE_WORKSPACE_ROOT=str(BASE_DIR / "var" / "bench-workspaces"),
        MGE_LOG_LEVEL="WARNING",
        MGE_LLM_BATCH="off",
        # Eight clients in a loop are one user far past a person's rate.
        MGE_API_THROTTLE_USER="1000000/minute",
    )
    fresh_database(DATABASE, environment)
    setup_django(environment)
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    # A reader's account, as a dashboard or a monitoring service has (a superuser would skip
    # every permission check).
    user = User.objects.create_user("bench", password="bench-only-password")
    user.groups.add(Group.objects.get(name="viewer"))
    token = Token.objects.create(user=user).key
    stub_process = start_stub(stub_port, environment)
    try:
        baseline = run("baseline", environment, stub_port, BASELINE_WORKER, token)
        figures = run("procfile", environment, stub_port, None, token)
    finally:
        stub_process.send_signal(signal.SIGTERM)
        stub_process.wait(timeout=30)
    print(f"baseline_makespan_s: {baseline['makespan_s']:.2f}")
    print(f"baseline_makespan_ratio: {baseline['makespan_ratio']:.3f}")
    print(f"baseline_in_flight_fill: {baseline['in_flight_fill']:.3f}")
    print(f"baseline_in_flight_mean_fill: {baseline['in_flight_mean_fill']:.3f}")
    print(f"baseline_web_cpu_ms_per_request: {baseline['web_cpu_ms_per_request']:.2f}")
    print(f"many_plans_makespan_s: {figures['makespan_s']:.2f}")
    print(f"many_plans_makespan_ratio: {figures['makespan_ratio']:.3f}")
    print(f"in_flight_fill: {figures['in_flight_fill']:.3f}")
    print(f"in_flight_mean_fill: {figures['in_flight_mean_fill']:.3f}")
    print(f"api_p95_idle_ms: {figures['api_p95_idle_ms']:.1f}")
    print(f"api_p95_loaded_ms: {figures['api_p95_loaded_ms']:.1f}")
    loaded_over_idle = figures["api_p95_loaded_ms"] / figures["api_p95_idle_ms"]
    print(f"api_p95_loaded_over_idle: {loaded_over_idle:.3f}")
    print(f"web_cpu_ms_per_request: {figures['web_cpu_ms_per_request']:.2f}")
    print(f"provider_429s: {figures['requests_429']}")
    both = baseline["ledger_equals_provider"] and figures["ledger_equals_provider"]
    print(f"ledger_equals_provider: {str(both).lower()}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--load"]:
        load_client(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    else:
        main()
