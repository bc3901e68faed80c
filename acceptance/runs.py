"""A test run: every valid test of a masterplan, one batch in the sandbox, results stored
per test in one transaction."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from acceptance.jobs import JOB_TIMEOUT_SECONDS, enqueue
from acceptance.models import AcceptanceTest, TestResult, TestRun
from acceptance.runner import TestFile, run_tests
from execution.jobs import QueueUnavailable
from execution.models import Atom, MasterPlan, Wave
from sandbox import SandboxUnavailable

logger = logging.getLogger(__name__)


def queue_run(masterplan: MasterPlan, wave: Wave | None = None) -> TestRun:
    return TestRun.objects.create(masterplan=masterplan, wave=wave)


def request_run(masterplan: MasterPlan, wave: Wave | None) -> TestRun:
    """A queued run and its job; raises jobs.QueueUnavailable, keeping no run that
    was never queued (it would block the next try)."""
    run = queue_run(masterplan, wave)
    try:
        run.job_id = enqueue("acceptance.tasks.run", str(run.pk))
    except QueueUnavailable:
        run.delete()
        raise
    run.save(update_fields=["job_id"])
    return run


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


def latest_results(masterplan: MasterPlan) -> dict[object, TestResult]:
    """Each test's latest result (`TestResult.LATEST_FIRST`), by test id."""
    newest = TestResult.objects.filter(test=OuterRef("test")).order_by(*TestResult.LATEST_FIRST)
    results = TestResult.objects.filter(
        test__masterplan=masterplan, pk=Subquery(newest.values("pk")[:1])
    )
    return {result.test_id: result for result in results}


def run_summary(run: TestRun) -> dict[str, Any]:
    return run_summaries([run])[run.pk]


def run_summaries(runs: Sequence[TestRun]) -> dict[object, dict[str, Any]]:
    """The seed's summary of each run: totals and the pass rates by priority (one query)."""
    rows: dict[object, list[tuple[str, str]]] = {run.pk: [] for run in runs}
    for run_id, status, priority in TestResult.objects.filter(run__in=runs).values_list(
        "run_id", "status", "test__requirement__priority"
    ):
        rows[run_id].append((status, priority))
    return {run.pk: _summary(run, rows[run.pk]) for run in runs}


def _summary(run: TestRun, rows: list[tuple[str, str]]) -> dict[str, Any]:
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
