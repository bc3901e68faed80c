"""Validate a masterplan's workspace at the levels asked for, and store what was found."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from execution.models import MasterPlan, Wave
from precision import atomic, build, links
from precision.findings import CheckResult
from precision.models import Severity, ValidationCheck, ValidationRun
from precision.sources import Workspace, read_workspace

ALL_LEVELS = (1, 2, 3, 4)
AFTER_WAVE_LEVELS = (1, 2, 3)


def validate(
    masterplan: MasterPlan,
    levels: Sequence[int] = ALL_LEVELS,
    *,
    wave: Wave | None = None,
    paths: Iterable[str] | None = None,
) -> ValidationRun:
    """Run the levels over the workspace (L1–L3 only over `paths` when given, read against
    every file) and store the run with its checks."""
    started = time.monotonic()
    run = ValidationRun.objects.create(masterplan=masterplan, wave=wave, levels=sorted(levels))
    try:
        _run_levels(run, masterplan, levels, paths, started)
    except Exception as error:
        # The run says it stopped (else it would read "running" for ever); the caller — the
        # check, whose verdict is then "undecided", or the CLI — reports the cause.
        run.status, run.message = ValidationRun.Status.ERROR, f"{type(error).__name__}: {error}"
        run.finished_at, run.duration_s = timezone.now(), time.monotonic() - started
        run.save(update_fields=["status", "message", "finished_at", "duration_s"])
        raise
    return run


def _run_levels(
    run: ValidationRun,
    masterplan: MasterPlan,
    levels: Sequence[int],
    paths: Iterable[str] | None,
    started: float,
) -> None:
    workspace = read_workspace(Path(masterplan.workspace_path), masterplan.pk)
    wanted = list(paths) if paths is not None else None
    results: list[CheckResult] = []
    tools: dict[str, str] = {}
    if 1 in levels:
        results += atomic.check(workspace, wanted)
        tools.update(atomic.tool_versions())
    if 2 in levels or 3 in levels:
        results += [r for r in links.check(workspace, wanted) if r.level in levels]
    if 4 in levels:
        report = build.check(workspace, masterplan.pk)
        results += report.checks
        tools.update(report.tools)
        run.isolation = report.isolation
    _store(run, workspace, results, tools, time.monotonic() - started)


@transaction.atomic
def _store(
    run: ValidationRun,
    workspace: Workspace,
    results: list[CheckResult],
    tools: dict[str, str],
    duration_s: float,
) -> None:
    ValidationCheck.objects.bulk_create(
        [_row(run, workspace, result) for result in results], batch_size=1000
    )
    run.status = ValidationRun.Status.FINISHED
    run.files = len(workspace.sources)
    run.tools = tools
    run.duration_s = duration_s
    run.finished_at = timezone.now()
    run.message = summary(results)
    run.save()


def _row(run: ValidationRun, workspace: Workspace, result: CheckResult) -> ValidationCheck:
    worst = result.worst
    owner = workspace.owner(result.file) if result.file else None
    return ValidationCheck(
        id=uuid.uuid4(),
        run=run,
        level=result.level,
        scope=result.scope,
        category=result.category,
        status=result.status,
        passed=result.status == ValidationCheck.Status.PASSED,
        severity=worst.severity if worst else "",
        message=result.message[:4000],
        file=result.file[:300],
        line=result.headline_line,
        findings=[finding.as_json() for finding in result.findings],
        atom_id=owner.atom_id if owner else None,
    )


def summary(results: list[CheckResult]) -> str:
    if not results:
        return "nothing to check: the workspace has no source file yet"
    failed = sum(r.status == ValidationCheck.Status.FAILED for r in results)
    errors = sum(r.status == ValidationCheck.Status.ERROR for r in results)
    critical = sum(any(f.severity == Severity.CRITICAL for f in r.findings) for r in results)
    text = f"{len(results) - failed - errors} of {len(results)} checks passed"
    if failed:
        text += f"; {failed} failed ({critical} with a CRITICAL finding)"
    if errors:
        text += f"; {errors} could not run"
    return text
