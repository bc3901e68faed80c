"""A test run: every valid test of a masterplan, one batch in the sandbox, results stored
per test in one transaction."""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from acceptance.jobs import JOB_TIMEOUT_SECONDS
from acceptance.models import AcceptanceTest, TestResult, TestRun
from acceptance.runner import TestFile, run_tests
from acceptance.sandbox import SandboxUnavailable
from execution.models import Atom, MasterPlan, Wave

logger = logging.getLogger(__name__)


def queue_run(masterplan: MasterPlan, wave: Wave | None = None) -> TestRun:
    return TestRun.objects.create(masterplan=masterplan, wave=wave)


def active_run(masterplan: MasterPlan) -> TestRun | None:
    """A run queued or running now. One older than a job may live lost its worker: it
    blocks nothing."""
    since = timezone.now() - timedelta(seconds=JOB_TIMEOUT_SECONDS)
    return masterplan.test_runs.filter(
        status__in=[TestRun.Status.QUEUED, TestRun.Status.RUNNING], created_at__gte=since
    ).first()


def execute_run(run_id: object) -> TestRun:
    """Run the tests of a queued run; a refused sandbox or a crash ends the run with the
    reason, never silently."""
    with transaction.atomic():
        run = TestRun.objects.select_for_update().select_related("masterplan").get(pk=run_id)
        if run.status != TestRun.Status.QUEUED:
            return run  # another worker took it (a job delivered twice)
        run.status, run.started_at = TestRun.Status.RUNNING, timezone.now()
        # What the copy of the workspace holds: only a run that saw every atom's code may
        # decide how the plan ends, and a per-wave gate counts what this run could test.
        atoms = list(run.masterplan.atoms.values_list("file_path", "status"))
        run.written_files = sorted(path for path, status in atoms if status == "completed")
        run.code_complete = all(status in Atom.TERMINAL_STATUSES for _, status in atoms)
        run.save(update_fields=["status", "started_at", "written_files", "code_complete"])
    tests = list(AcceptanceTest.objects.filter(masterplan=run.masterplan))
    valid = [test for test in tests if test.status == AcceptanceTest.Status.VALID]
    try:
        report = _run_in_workspace(Path(run.masterplan.workspace_path), valid)
    except SandboxUnavailable as refused:
        return _end(run, TestRun.Status.REFUSED, str(refused))
    except Exception as error:
        logger.exception("acceptance run %s failed", run.pk)
        return _end(run, TestRun.Status.ERROR, f"{type(error).__name__}: {error}")
    results = [
        TestResult(
            run=run, test=test, wave=run.wave, status=outcome.status,
            duration_s=outcome.duration_s, message=outcome.message, trace=outcome.trace,
        )
        for test in valid
        for outcome in [report.outcomes[str(test.pk)]]
    ] + [
        TestResult(
            run=run, test=test, wave=run.wave, status=TestResult.Status.ERROR,
            message=f"not run: the generated test is invalid ({test.invalid_reason})",
        )
        for test in tests
        if test.status == AcceptanceTest.Status.INVALID
    ]  # fmt: skip
    with transaction.atomic():
        TestResult.objects.bulk_create(results)
        run.isolation = report.isolation
        return _end(run, TestRun.Status.FINISHED, "")


def _run_in_workspace(workspace: Path, tests: list[AcceptanceTest]) -> Any:
    files = [TestFile(str(test.pk), test.file_path, test.code, test.framework) for test in tests]
    if workspace.is_dir():
        return run_tests(workspace, files)
    with tempfile.TemporaryDirectory(prefix="mge-empty-workspace-") as empty:
        return run_tests(Path(empty), files)  # nothing generated yet: every test fails


def _end(run: TestRun, status: str, message: str) -> TestRun:
    run.status, run.message, run.finished_at = status, message, timezone.now()
    run.save(update_fields=["status", "message", "finished_at", "isolation"])
    return run


def run_summary(run: TestRun) -> dict[str, Any]:
    """The seed's summary of a run: totals and the pass rates by priority."""
    rows = list(run.results.values_list("status", "test__requirement__priority"))
    by_priority: dict[str, list[int]] = {"must": [0, 0], "should": [0, 0]}
    for status, priority in rows:
        by_priority[priority][0] += 1
        by_priority[priority][1] += status == TestResult.Status.PASSED

    def rate(priority: str) -> float | None:
        total, passed = by_priority[priority]
        return round(passed / total, 4) if total else None

    passed = sum(status == TestResult.Status.PASSED for status, _ in rows)
    skipped = sum(status == TestResult.Status.SKIPPED for status, _ in rows)
    return {
        "run": str(run.pk),
        "status": run.status,
        "isolation": run.isolation,
        "message": run.message,
        "total_tests": len(rows),
        "passed": passed,
        "failed": len(rows) - passed - skipped,
        "skipped": skipped,
        "must_pass_rate": rate("must"),
        "should_pass_rate": rate("should"),
    }
