"""Runs a masterplan's acceptance tests: all of them in one batch, in the sandbox.

One pytest session for every pytest file and one `vitest run` for every TypeScript or
JavaScript file, on a private copy of the workspace with the test files written into it.
Each reports through a small plugin of ours (`in_sandbox/`) that streams JSON lines to a
file descriptor: the tests it collected, then each test's outcome as it ends. A test that
was collected and has no outcome — its process crashed or was killed — is reported as an
error, never left out; a file from which nothing was collected is an error that says why.

A file's outcome is the worst of its tests' (error > timeout > failed > passed > skipped;
all skipped is skipped).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings

from execution.runtime.workspace import (
    WorkspacePathError,
    check_relative_path,
    resolve_in_workspace,
)
from sandbox import Execution, Sandbox, open_sandbox

JS_DIR = Path(__file__).resolve().parent / "js"
IN_SANDBOX_DIR = Path(__file__).resolve().parent / "in_sandbox"
NO_RESULT = "no result: crashed or killed"
LOG_TAIL_CHARS = 32 * 1024
MAX_RESULTS_BYTES = 32 * 1024 * 1024
MAX_MESSAGE_CHARS = 4 * 1024
MAX_TRACE_CHARS = 16 * 1024
_RANK = {"skipped": 0, "passed": 1, "failed": 2, "timeout": 3, "error": 4}
_TOOLS = "mge"  # our plugin, reporter and Vitest config, bound into the sandbox


@dataclass(frozen=True)
class TestFile:
    __test__ = False  # not a pytest class, despite the name

    key: str
    path: str
    code: str
    framework: str


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False

    key: str
    status: str
    duration_s: float
    message: str
    trace: str


@dataclass(frozen=True)
class RunReport:
    outcomes: dict[str, TestOutcome]
    isolation: str
    duration_s: float
    log: str


def run_tests(workspace: Path, tests: Sequence[TestFile]) -> RunReport:
    """Every key of `tests` gets an outcome. Raises SandboxUnavailable when no isolation
    works (or MGE_SANDBOX=none outside DEBUG)."""
    started = time.monotonic()
    deadline = started + settings.MGE_ACCEPTANCE_RUN_TIMEOUT_SECONDS
    outcomes, runnable = _sort_out(tests)
    logs: list[str] = []
    with open_sandbox() as sandbox:
        unwritable = _stage(sandbox, workspace, runnable)
        outcomes.update(unwritable)
        runnable = [test for test in runnable if test.key not in unwritable]
        for framework in ("pytest", "vitest"):
            files = [test for test in runnable if test.framework == framework]
            if files:
                phase = _Phase(framework, files)
                outcomes.update(phase.run(sandbox, deadline))
                logs.append(f"--- {framework}: {phase.summary}\n{phase.output}")
        isolation = sandbox.isolation
    return RunReport(
        outcomes={test.key: outcomes[test.key] for test in tests},
        isolation=isolation,
        duration_s=time.monotonic() - started,
        log="\n".join(logs)[-LOG_TAIL_CHARS:],
    )


def _sort_out(tests: Sequence[TestFile]) -> tuple[dict[str, TestOutcome], list[TestFile]]:
    """Outcomes of the tests that cannot run at all, and the others with clean paths."""
    outcomes: dict[str, TestOutcome] = {}
    runnable: list[TestFile] = []
    owners: dict[str, str] = {}
    for test in tests:
        try:
            path = check_relative_path(test.path)
        except WorkspacePathError as error:
            outcomes[test.key] = _error(test.key, f"invalid test path {test.path!r}: {error}")
            continue
        if test.framework not in ("pytest", "vitest"):
            outcomes[test.key] = _error(test.key, f"unknown framework {test.framework!r}")
        elif path in owners:
            outcomes[test.key] = _error(test.key, f"{path} is also the path of {owners[path]}")
        else:
            owners[path] = test.key
            runnable.append(TestFile(test.key, path, test.code, test.framework))
    return outcomes, runnable


def _stage(sandbox: Sandbox, workspace: Path, tests: list[TestFile]) -> dict[str, TestOutcome]:
    """The workspace copied into the sandbox's source, the tests written into it, and our
    plugin and reporter beside it; the outcomes of tests that cannot be written. The real
    workspace is only read."""
    if workspace.is_dir():
        shutil.copytree(workspace, sandbox.source, symlinks=True, dirs_exist_ok=True)
    unwritable = {}
    for test in tests:
        try:
            target = resolve_in_workspace(sandbox.source, test.path)
        except WorkspacePathError as error:  # a symlink of the workspace leads it outside
            unwritable[test.key] = _error(test.key, f"not run: {error}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(test.code, encoding="utf-8")
    tools = sandbox.host_dir(_TOOLS)
    for plugin in IN_SANDBOX_DIR.iterdir():
        if plugin.is_file():
            shutil.copy(plugin, tools / plugin.name)
    return unwritable


class _Case(NamedTuple):
    """One test of a file (or the file's own error), as its outcome is told."""

    name: str
    status: str
    duration_s: float = 0.0
    message: str = ""
    trace: str = ""


@dataclass
class _Phase:
    """One framework's run: its command, its streamed events, its files' outcomes."""

    framework: str
    files: list[TestFile]
    summary: str = "not run"
    output: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)

    def run(self, sandbox: Sandbox, deadline: float) -> dict[str, TestOutcome]:
        missing = _missing_toolchain(self.framework)
        if missing:
            self.summary = missing
            return {test.key: _error(test.key, missing) for test in self.files}
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self.summary = "the run's time limit ran out before it started"
            return {test.key: _run_timeout(test.key) for test in self.files}
        command, env = _COMMANDS[self.framework](sandbox, self.files)
        execution, self.events = _run_reporting(
            sandbox, self.framework, command, env, self.framework, remaining
        )
        self.output = execution.output
        self.summary = (
            "killed at the run's time limit"
            if execution.timed_out
            else f"exit status {execution.returncode}, {execution.duration_s:.1f} s"
        )
        return {test.key: self._outcome(test, execution) for test in self.files}

    def _outcome(self, test: TestFile, execution: Execution) -> TestOutcome:
        cases = self._cases_of(test.path)
        errors = [
            event
            for event in self.events
            if event.get("event") == "file_error" and _covers(str(event.get("file")), test.path)
        ]
        if not cases and not errors:
            return self._nothing_collected(test, execution)
        outcomes = [self._case_outcome(case, execution) for case in cases]
        outcomes += [
            _Case("(file)", "error", message=str(error.get("message") or ""),
                  trace=str(error.get("trace") or ""))
            for error in errors
        ]  # fmt: skip
        return _combine(test.key, outcomes)

    def _cases_of(self, path: str) -> list[dict[str, Any]]:
        """The file's collected tests in order, each with its outcome event if one came."""
        cases: dict[str, dict[str, Any]] = {}
        for event in self.events:
            if event.get("file") != path or event.get("event") not in ("collected", "case"):
                continue
            identifier = str(event.get("id"))
            case = cases.setdefault(identifier, {"name": event.get("name") or identifier})
            if event.get("event") == "case":
                case["result"] = event
        return list(cases.values())

    def _case_outcome(self, case: dict[str, Any], execution: Execution) -> _Case:
        name = str(case["name"])
        result = case.get("result")
        if result is None and execution.timed_out:
            return _Case(name, "timeout", message=_run_timeout_message())
        if result is None:
            return _Case(name, "error", message=NO_RESULT, trace=self._crash_trace(execution))
        status = str(result.get("status"))
        if status not in _RANK:
            return _Case(name, "error", message=f"no outcome reported ({status})")
        return _Case(
            name,
            status,
            float(result.get("duration") or 0.0),
            str(result.get("message") or ""),
            str(result.get("trace") or ""),
        )

    def _nothing_collected(self, test: TestFile, execution: Execution) -> TestOutcome:
        if execution.timed_out:
            return _run_timeout(test.key)
        if any(event.get("event") == "finished" for event in self.events):
            return _error(test.key, f"nothing collected: {test.path} defines no test")
        if not any(event.get("event") == "collected" for event in self.events):
            last_line = next(iter(reversed(execution.output.strip().splitlines())), "")
            message = f"{self.framework} stopped before running any test: {last_line}"
            return _error(test.key, message, execution.output)
        return _error(test.key, NO_RESULT, self._crash_trace(execution))

    def _crash_trace(self, execution: Execution) -> str:
        run_errors = [
            f"{event.get('message')}\n{event.get('trace', '')}"
            for event in self.events
            if event.get("event") == "run_error"
        ]
        return "\n".join([f"{self.framework} exit status {execution.returncode}", *run_errors])


def _combine(key: str, cases: list[_Case]) -> TestOutcome:
    """One file's outcome from its tests': the worst status, its message, every trace."""
    worst = max(cases, key=lambda case: _RANK[case.status])
    message = worst.message
    if len(cases) > 1 and message:
        message = f"{worst.name}: {message}"
    traces = [
        f"--- {case.name} ({case.status})\n{case.trace}"
        for case in cases
        if case.status not in ("passed", "skipped") and case.trace.strip()
    ]
    return TestOutcome(
        key,
        worst.status,
        sum(case.duration_s for case in cases),
        message[:MAX_MESSAGE_CHARS],
        "\n".join(traces)[:MAX_TRACE_CHARS],
    )


def _covers(error_file: str, path: str) -> bool:
    """A collection error of a directory (its conftest.py) is an error of its files."""
    return error_file in ("", ".", path) or path.startswith(error_file.rstrip("/") + "/")


def _error(key: str, message: str, trace: str = "") -> TestOutcome:
    return TestOutcome(key, "error", 0.0, message, trace)


def _run_timeout_message() -> str:
    limit = settings.MGE_ACCEPTANCE_RUN_TIMEOUT_SECONDS
    return f"not finished: the run's time limit ({limit} s) ran out and everything was killed"


def _run_timeout(key: str) -> TestOutcome:
    return TestOutcome(key, "timeout", 0.0, _run_timeout_message(), "")


def _run_reporting(
    sandbox: Sandbox,
    name: str,
    command: list[str],
    env: dict[str, str],
    framework: str,
    timeout_s: float,
) -> tuple[Execution, list[dict[str, Any]]]:
    """Run a command whose plugin streams JSON lines to the descriptor named by
    MGE_RESULTS_FD, and read what it wrote (`name` names the results file)."""
    results = sandbox.host_dir("results") / f"{name}.jsonl"
    descriptor = os.open(results, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        execution = sandbox.run(
            command,
            tools=_tools(framework, sandbox),
            env={**env, "MGE_RESULTS_FD": str(descriptor)},
            pass_fd=descriptor,
            timeout_s=timeout_s,
        )
    finally:
        os.close(descriptor)
    return execution, _read_events(results)


def _read_events(path: Path) -> list[dict[str, Any]]:
    """The JSON lines the sandbox wrote; what is not one (a test may write anything to the
    descriptor too) is skipped."""
    with path.open("rb") as stream:
        data = stream.read(MAX_RESULTS_BYTES)
    events = []
    for line in data.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _missing_toolchain(framework: str) -> str:
    if framework == "vitest" and shutil.which("node") is None:
        return "Node.js is not installed: TypeScript/JavaScript tests cannot run"
    if framework == "vitest" and not (JS_DIR / "node_modules" / "vitest").is_dir():
        return "Vitest is not installed: run `make run` (or `npm ci` in acceptance/js)"
    return ""


def _tools(framework: str, sandbox: Sandbox) -> dict[str, Path]:
    tools = {_TOOLS: sandbox.host_dir(_TOOLS)}
    if framework == "vitest":
        # Beside the workspace copy: Node finds it from the tests' imports of "vitest".
        tools["node_modules"] = JS_DIR / "node_modules"
    return tools


def _pytest_command(sandbox: Sandbox, files: list[TestFile]) -> tuple[list[str], dict[str, str]]:
    command = [
        sys.executable, "-m", "pytest",
        # Only our plugins: the workspace's own conftest.py still loads, nothing else does.
        "-p", "mge_pytest_results", "-p", "pytest_timeout", "-p", "no:cacheprovider",
        f"--timeout={settings.MGE_ACCEPTANCE_TEST_TIMEOUT_SECONDS}", "--timeout-method=signal",
        "--continue-on-collection-errors", f"--rootdir={sandbox.workspace}",
        "-q", "--color=no", "--", *[test.path for test in files],
    ]  # fmt: skip
    env = {
        "PYTHONPATH": str(sandbox.tool_path(_TOOLS)),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    return command, env


def _vitest_command(sandbox: Sandbox, files: list[TestFile]) -> tuple[list[str], dict[str, str]]:
    tools = sandbox.tool_path(_TOOLS)
    timeout_ms = settings.MGE_ACCEPTANCE_TEST_TIMEOUT_SECONDS * 1000
    config = {
        "test": {
            "include": [_glob_escape(test.path) for test in files],
            "testTimeout": timeout_ms,
            "hookTimeout": timeout_ms,
            "pool": "forks",
            "maxWorkers": max(1, min(4, (os.cpu_count() or 2) - 1)),
            "minWorkers": 1,
            "reporters": ["default", str(tools / "mge_vitest_results.mjs")],
            "watch": False,
        }
    }
    config_file = sandbox.host_dir(_TOOLS) / "vitest.config.mjs"
    config_file.write_text(f"export default {json.dumps(config, indent=2)};\n")
    node_modules = sandbox.tool_path("node_modules")
    command = [
        str(shutil.which("node")), str(node_modules / "vitest" / "vitest.mjs"), "run",
        # Our config, loaded by Node itself: the default loader bundles it into the
        # read-only node_modules. A config of the workspace is not read.
        "--config", str(tools / config_file.name), "--configLoader", "native",
        "--root", str(sandbox.workspace),
    ]  # fmt: skip
    # V8 reserves 10 GB of address space per WebAssembly memory for its trap handler;
    # without it, Vite's wasm parsers fit under the address-space limit.
    env = {"NODE_OPTIONS": "--disable-wasm-trap-handler", "NO_COLOR": "1"}
    return command, env


def _glob_escape(path: str) -> str:
    """Vitest reads `include` as globs; a path is matched literally."""
    return "".join(f"\\{char}" if char in "*?[]{}()!+@" else char for char in path)


_COMMANDS: dict[str, Callable[[Sandbox, list[TestFile]], tuple[list[str], dict[str, str]]]] = {
    "pytest": _pytest_command,
    "vitest": _vitest_command,
}


def collection_errors(workspace: Path, tests: Sequence[TestFile]) -> tuple[dict[str, str], str]:
    """The pytest files among `tests` that do not collect, each with why, from one
    `--collect-only` run in the sandbox (the precision app's L4 build check); and the
    sandbox's isolation. Raises SandboxUnavailable as `run_tests` does."""
    outcomes, runnable = _sort_out([test for test in tests if test.framework == "pytest"])
    errors = {key: outcome.message for key, outcome in outcomes.items()}
    with open_sandbox() as sandbox:
        unwritable = _stage(sandbox, workspace, runnable)
        errors.update({key: outcome.message for key, outcome in unwritable.items()})
        runnable = [test for test in runnable if test.key not in unwritable]
        if runnable:
            command, env = _pytest_command(sandbox, runnable)
            execution, events = _run_reporting(
                sandbox, "collect", [*command[:3], "--collect-only", *command[3:]], env,
                "pytest", settings.MGE_ACCEPTANCE_RUN_TIMEOUT_SECONDS,
            )  # fmt: skip
            for test in runnable:
                failed = [event for event in events if event.get("event") == "file_error"
                          and _covers(str(event.get("file")), test.path)]  # fmt: skip
                collected = any(event.get("event") == "collected" and event.get("file") == test.path
                                for event in events)  # fmt: skip
                if failed:
                    errors[test.key] = str(failed[0].get("message") or "collection failed")
                elif execution.timed_out:
                    errors[test.key] = _run_timeout_message()
                elif not collected:
                    errors[test.key] = f"nothing collected: {test.path} defines no test"
        isolation = sandbox.isolation
    return errors, isolation
