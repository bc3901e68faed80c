"""`manage.py mge run ID_OR_FILE [--wait] [--inline]` and `manage.py mge llm-stub`."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import django_rq
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from rq import SimpleWorker

from execution.cli.commands import EXIT_BAD_INPUT, import_file
from execution.llm.offline import OfflineResponder
from execution.llm.stub_server import StubServer
from execution.models import MasterPlan
from execution.runtime import jobs, lifecycle
from execution.runtime.progress import masterplan_progress

FINAL_STATUSES = {
    MasterPlan.Status.COMPLETED,
    MasterPlan.Status.FAILED,
    MasterPlan.Status.GATE_FAILED,
    MasterPlan.Status.PAUSED_BUDGET,
    MasterPlan.Status.PAUSED_PROVIDER,
    MasterPlan.Status.CANCELLED,
    MasterPlan.Status.PAUSED,
}
BAR_WIDTH = 30


def register(subcommands: argparse._SubParsersAction[CommandParser]) -> None:
    parser = subcommands.add_parser("run", help="start a masterplan (importing a file first)")
    parser.add_argument("target", help="a masterplan id, or a document file to import")
    parser.add_argument("--wait", action="store_true", help="show progress until it ends")
    parser.add_argument(
        "--inline", action="store_true", help="run the jobs in this process (a burst worker)"
    )
    parser.set_defaults(handler=run_command)

    parser = subcommands.add_parser("llm-stub", help="serve the Anthropic API stub on loopback")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--capacity", type=int, default=None, help="concurrent requests served")
    parser.add_argument(
        "--schedule", default="", help="statuses for the next requests, e.g. 429,529,500"
    )
    parser.set_defaults(handler=llm_stub_command)


def _masterplan_for(target: str) -> MasterPlan:
    path = Path(target)
    if path.suffix == ".md" or path.exists():
        return import_file(path)
    try:
        return MasterPlan.objects.get(pk=uuid.UUID(target))
    except (ValueError, MasterPlan.DoesNotExist):
        raise CommandError(
            f"{target!r} is neither a masterplan id nor a document file", returncode=EXIT_BAD_INPUT
        ) from None


def run_command(command: BaseCommand, options: dict[str, Any]) -> None:
    masterplan = _masterplan_for(options["target"])
    try:
        result = lifecycle.start_masterplan(masterplan.pk)
    except lifecycle.TransitionRefused as refused:
        if refused.status != MasterPlan.Status.RUNNING:
            raise CommandError(str(refused), returncode=EXIT_BAD_INPUT) from None
        command.stdout.write(f"{masterplan.name} is already running; following it.")
    except (jobs.QueueUnavailable, jobs.Backpressure) as unavailable:
        raise CommandError(str(unavailable)) from None
    else:
        command.stdout.write(f"Started {masterplan.name} ({masterplan.pk}): jobs {result.job_ids}")
    if options["inline"]:
        watcher = _ProgressPrinter(masterplan, command.stdout) if options["wait"] else None
        if watcher:
            watcher.start()
        queues = [django_rq.get_queue(name) for name in ("waves", "tests", "default")]
        SimpleWorker(queues, connection=queues[0].connection).work(
            burst=True, logging_level="WARNING"
        )
        if watcher:
            watcher.stop()
    elif options["wait"]:
        _ProgressPrinter(masterplan, command.stdout).follow()
    else:
        return
    masterplan.refresh_from_db()
    command.stdout.write(
        f"{masterplan.name}: {masterplan.status}. {masterplan.status_reason}".strip()
    )
    if masterplan.status != MasterPlan.Status.COMPLETED:
        stopped = "ended" if masterplan.status in lifecycle.ENDED else "stopped,"
        raise CommandError(f"the masterplan {stopped} {masterplan.status}", returncode=1)


class _ProgressPrinter:
    """A bar per wave, redrawn in place on a terminal, a line per change elsewhere."""

    def __init__(self, masterplan: MasterPlan, out: OutputWrapper, interval: float = 0.5) -> None:
        self.masterplan = masterplan
        self.out = out
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.follow, daemon=True)
        self._drawn_lines = 0
        self._last = ""
        self._tty = getattr(getattr(out, "_out", out), "isatty", lambda: False)()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._draw()

    def follow(self) -> None:
        from django.db import connection

        try:
            while not self._stop.is_set():
                status = self._draw()
                if status in FINAL_STATUSES:
                    return
                self._stop.wait(self.interval)
        finally:
            connection.close()

    def _draw(self) -> str:
        self.masterplan = MasterPlan.objects.with_spent().get(pk=self.masterplan.pk)
        progress = masterplan_progress(self.masterplan)
        lines = [_wave_line(wave) for wave in progress["waves"]]
        lines.append(
            f"{progress['status']:>13}  {progress['by_status']['completed']}/"
            f"{progress['atoms_total']} atoms  ${Decimal(progress['cost_usd']):.4f}"
            + (f"  ETA {progress['eta_seconds']:.0f}s" if progress["eta_seconds"] else "")
        )
        text = "\n".join(lines)
        if text != self._last:
            if self._tty and self._drawn_lines:
                self.out.write(f"\x1b[{self._drawn_lines}F\x1b[J", ending="")
            self.out.write(text)
            self._drawn_lines = len(lines)
            self._last = text
        return str(progress["status"])


def _wave_line(wave: dict[str, Any]) -> str:
    done = wave["by_status"].get("completed", 0)
    failed = sum(wave["by_status"].get(s, 0) for s in ("failed", "blocked", "skipped"))
    total = wave["atoms"] or 1
    filled = round(BAR_WIDTH * done / total)
    broken = round(BAR_WIDTH * failed / total)
    bar = "#" * filled + "x" * broken + "-" * max(0, BAR_WIDTH - filled - broken)
    return f"wave {wave['number']:>3} [{bar}] {done}/{wave['atoms']} {wave['status']}"


def llm_stub_command(command: BaseCommand, options: dict[str, Any]) -> None:
    stub = StubServer(OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR), port=options["port"])
    try:
        schedule = [int(code) for code in options["schedule"].split(",") if code.strip()]
    except ValueError:
        raise CommandError("--schedule takes status codes, e.g. 429,529", returncode=2) from None
    stub.configure(
        latency_ms=options["latency_ms"], capacity=options["capacity"], scheduled_statuses=schedule
    )
    shown = {"latency_ms": options["latency_ms"], "capacity": options["capacity"]}
    command.stdout.write(
        f"Anthropic API stub on {stub.url} (set ANTHROPIC_BASE_URL={stub.url}); {json.dumps(shown)}"
    )
    sys.stdout.flush()
    try:
        stub.serve_forever()
    except KeyboardInterrupt:
        stub.stop()
