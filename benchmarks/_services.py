"""What the benchmarks share: a fresh PostgreSQL database and Django set up on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from mge_site.embedded_redis import free_loopback_port  # noqa: E402

__all__ = [
    "BASE_DIR",
    "cpu_seconds",
    "environment_for",
    "fresh_database",
    "free_loopback_port",
    "layered_masterplan",
    "RunFigures",
    "run_on_workers",
    "setup_django",
    "start_stub",
    "stub",
    "wait_for_stub",
]


def fresh_database(name: str, environment: dict[str, str]) -> None:
    """Drop and create `name`, then migrate it (the environment's DATABASE_URL names it)."""
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=environment, check=True
    )


def stub(port: int, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def start_stub(port: int, environment: dict[str, str], *options: str) -> subprocess.Popen[bytes]:
    """The Anthropic API stub (`manage.py mge llm-stub`) on `port`, answering; the caller
    stops it (SIGTERM)."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "mge", "llm-stub", "--port", str(port), *options],
        cwd=BASE_DIR,
        env=environment,
        stdout=subprocess.DEVNULL,
    )
    wait_for_stub(port)
    return process


def wait_for_stub(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            stub(port, "/_stub/stats")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the LLM stub did not answer on port {port}") from None
            time.sleep(0.2)


def setup_django(environment: dict[str, str]) -> None:
    os.environ.update(environment)
    os.environ["DJANGO_SETTINGS_MODULE"] = "mge_site.settings"
    import django

    django.setup()


def environment_for(database: str, redis_url: str, stub_port: int, **extra: str) -> dict[str, str]:
    """The processes' environment: their own database and Redis, the real SDK aimed at the
    loopback stub. The generated plans have no requirements: no acceptance tests and no
    release gate (benchmarks/acceptance.py measures those), and no validation or import
    reading after the waves (benchmarks/precision.py, benchmarks/dependencies.py)."""
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": redis_url,
        "MGE_LLM_PROVIDER": "anthropic",
        "ANTHROPIC_API_KEY": "benchmark",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{stub_port}",
        "MGE_ACCEPTANCE_AFTER_WAVES": "false",
        "MGE_PRECISION_AFTER_WAVES": "false",
        "MGE_DEPENDENCIES_AFTER_WAVES": "false",
        **extra,
    }


@dataclass(frozen=True)
class RunFigures:
    makespan_s: float
    worker_cpu_s: float
    """CPU seconds (user + system) the worker processes spent from the start to the end."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (and of its children it has waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def run_on_workers(
    masterplan: Any,
    environment: dict[str, str],
    *,
    workers: int,
    queues: tuple[str, ...] = ("waves",),
    scheduler: bool = False,
    timeout_s: float = 600,
) -> RunFigures:
    """Start the masterplan on `workers` real RQ worker processes (and the scheduler);
    return the seconds until it stops running and the CPU the workers spent meanwhile."""
    from execution.models import MasterPlan
    from execution.runtime.lifecycle import start_masterplan

    manage = [sys.executable, "manage.py"]
    quiet: dict[str, Any] = {
        "cwd": BASE_DIR,
        "env": environment,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    worker = [*manage, "rqworker", *queues, "--worker-class", "rq.worker.SimpleWorker"]
    processes = [subprocess.Popen(worker, **quiet) for _ in range(workers)]
    if scheduler:
        processes.append(subprocess.Popen([*manage, "rqcron", "mge_site.cron"], **quiet))
    try:
        time.sleep(3)  # the workers up
        worker_pids = [process.pid for process in processes[:workers]]
        cpu_before = sum(cpu_seconds(pid) for pid in worker_pids)
        started = time.monotonic()
        start_masterplan(masterplan.pk)
        while True:
            masterplan.refresh_from_db()
            if masterplan.status != MasterPlan.Status.RUNNING:
                makespan = time.monotonic() - started
                cpu = sum(cpu_seconds(pid) for pid in worker_pids) - cpu_before
                return RunFigures(makespan, cpu)
            if time.monotonic() > started + timeout_s:
                raise SystemExit(
                    f"the plan did not finish in {timeout_s:.0f} s: {masterplan.status_reason}"
                )
            time.sleep(0.05)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)


def layered_masterplan(name: str, waves: int, atoms_per_wave: int) -> str:
    """A generated plan of `waves` waves: each atom depends on its twin in the wave before."""
    atoms = []
    for wave in range(waves):
        for index in range(atoms_per_wave):
            depends = f"\n                depends_on: [w{wave - 1}_a{index}]" if wave else ""
            atoms.append(
                f"              - name: w{wave}_a{index}\n"
                f"                file: gen/w{wave}/a{index}.py{depends}\n"
                f"                spec: Define w{wave}_a{index}()."
            )
    return (
        f"---\nname: {name}\nbudget:\n  hard_cap_usd: 10000\n---\n\n## Plan\n\n"
        "```yaml\nphases:\n  - name: P\n    milestones:\n      - name: M\n        tasks:\n"
        "          - name: T\n            atoms:\n" + "\n".join(atoms) + "\n```\n"
    )
