"""A pytest plugin that acceptance/runner.py loads inside the sandbox (`-p mge_pytest_results`).

It streams JSON lines to the file descriptor named by MGE_RESULTS_FD as things happen: every
collected test id (and every collection error) before the first test runs, then each test's
outcome once its teardown is over, then that the session finished. A report written when the
session ends (`--junitxml`) dies with the session when a test kills the process or the run's
wall clock runs out; these lines are already written, so only the tests that really have no
result are reported so.

Only the standard library and pytest: it runs with the generated project's sys.path.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_TIMEOUT_MARK = "from pytest-timeout."
_RESULTS_FD = int(os.environ["MGE_RESULTS_FD"])
_cases: dict[str, dict[str, Any]] = {}


def _emit(event: dict[str, Any]) -> None:
    os.write(_RESULTS_FD, (json.dumps(event) + "\n").encode())


def _identity(nodeid: str) -> dict[str, str]:
    """The test's id, its file and its name within the file."""
    file, _, name = nodeid.partition("::")
    return {"id": nodeid, "file": file, "name": name or nodeid}


def _message(report: pytest.CollectReport | pytest.TestReport) -> str:
    """The one line a reader wants: the assertion, the exception, the skip reason."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    lines = [line.strip() for line in report.longreprtext.splitlines() if line.strip()]
    return lines[-1].removeprefix("E").strip() if lines else ""


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _emit(
            {
                "event": "file_error",
                "file": report.nodeid,
                "message": _message(report),
                "trace": report.longreprtext,
            }
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:
        _emit({"event": "collected", **_identity(item.nodeid)})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    case = _cases.setdefault(
        report.nodeid, {"status": None, "duration": 0.0, "message": "", "trace": ""}
    )
    case["duration"] += report.duration
    if report.failed:
        message = _message(report)
        if _TIMEOUT_MARK in message:
            status = "timeout"
        else:
            status = "failed" if report.when == "call" else "error"
        # A teardown error after a failed call keeps the call's failure as the headline.
        if case["status"] in (None, "passed", "skipped"):
            case["status"], case["message"] = status, message
        case["trace"] += report.longreprtext + "\n"
    elif report.skipped and case["status"] is None:
        reason = _message(report)
        case["status"] = "skipped"
        case["message"] = f"xfail: {report.wasxfail}" if hasattr(report, "wasxfail") else reason
    elif report.passed and report.when == "call" and case["status"] is None:
        case["status"] = "passed"
    if report.when == "teardown":
        _emit({"event": "case", **_identity(report.nodeid), **case})
        del _cases[report.nodeid]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The session ended on its own: a file without tests really has none."""
    _emit({"event": "finished"})
