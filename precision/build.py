"""L4, the whole workspace: it builds. `python -m compileall` and a collect-only run of the
acceptance tests for Python; `tsc --noEmit --strict` for TypeScript and JavaScript. Each
executes (or loads) generated code, so each runs in the sandbox."""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from acceptance.models import AcceptanceTest
from acceptance.runner import JS_DIR, TestFile, collection_errors
from execution.runtime.lifecycle import PlanId
from precision.findings import CheckResult, Finding
from precision.models import Severity, ValidationCheck
from precision.sources import Workspace
from sandbox import Sandbox, SandboxUnavailable, open_sandbox

LEVEL, SCOPE, CATEGORY = ValidationCheck.Level.MASTERPLAN, ValidationCheck.Scope.MASTERPLAN, "build"
TSC = JS_DIR / "node_modules" / "typescript" / "bin" / "tsc"
_TOOLS = "mge-build"
_TSC_LINE = re.compile(
    r"^(?P<file>.+?)\((?P<line>\d+),(?P<column>\d+)\): error (?P<code>TS\d+): "
    r"(?P<message>.*)$"
)
_COMPILE_ERROR = re.compile(r"^\*\*\* Error compiling '(?P<file>.+?)'\.\.\.$", re.MULTILINE)
_FILE_LINE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


@dataclass
class BuildReport:
    checks: list[CheckResult] = field(default_factory=list)
    isolation: str = ""
    tools: dict[str, str] = field(default_factory=dict)


def check(workspace: Workspace, masterplan_id: PlanId) -> BuildReport:
    report = BuildReport()
    python = [s.path for s in workspace.sources.values() if s.language == "python"]
    scripts = [s.path for s in workspace.sources.values() if s.language != "python"]
    tests = [
        TestFile(str(test.pk), test.file_path, test.code, test.framework)
        for test in AcceptanceTest.objects.filter(
            masterplan_id=masterplan_id,
            framework=AcceptanceTest.Framework.PYTEST,
            status=AcceptanceTest.Status.VALID,
        )
    ]
    if not (python or scripts or tests):
        return report
    try:
        with open_sandbox() as sandbox:
            report.isolation = sandbox.isolation
            shutil.copytree(workspace.root, sandbox.source, symlinks=True, dirs_exist_ok=True)
            if python:
                report.checks.append(_compileall(sandbox))
                report.tools["python"] = sys.version.split()[0]
            if scripts:
                report.checks += _tsc(sandbox, scripts)
                report.tools["typescript"] = _typescript_version()
    except SandboxUnavailable as unavailable:
        error = f"L4 did not run: {unavailable}"
        report.checks += [_failed_to_run("python -m compileall", error)] if python else []
        report.checks += [_failed_to_run("tsc --noEmit --strict", error)] if scripts else []
    report.checks += _collect(workspace, tests)
    return report


def _failed_to_run(subject: str, error: str, file: str = "") -> CheckResult:
    return CheckResult(LEVEL, SCOPE, CATEGORY, file, subject, error=error)


def _compileall(sandbox: Sandbox) -> CheckResult:
    result = CheckResult(LEVEL, SCOPE, CATEGORY, "", "python -m compileall: every file compiles")
    execution = sandbox.run(
        [sys.executable, "-m", "compileall", "-q", "-f", "."],
        tools={},
        env={},
        timeout_s=settings.MGE_PRECISION_BUILD_TIMEOUT_SECONDS,
    )
    if execution.timed_out:
        result.error = "python -m compileall did not finish in its time limit"
        return result
    blocks = _COMPILE_ERROR.split(execution.output)
    # split() with one group: [before, file1, text1, file2, text2, …]
    for file, text in zip(blocks[1::2], blocks[2::2], strict=True):
        path = file.removeprefix("./")
        located = _FILE_LINE.search(text)
        last = next(
            (line.strip() for line in reversed(text.strip().splitlines()) if line.strip()),
            "does not compile",
        )
        result.findings.append(
            Finding(
                Severity.CRITICAL,
                f"{path} does not compile: {last}",
                int(located["line"]) if located else None,
                "compile",
            )
        )
        result.file = result.file or path
    if execution.returncode not in (0, None) and not result.findings:
        tail = execution.output.strip().splitlines()[-1:] or ["no output"]
        result.findings.append(
            Finding(Severity.CRITICAL, f"compileall exited {execution.returncode}: {tail[0]}")
        )
    return result


def _typescript_version() -> str:
    try:
        package = json.loads((TSC.parent.parent / "package.json").read_text())
    except (OSError, ValueError):
        return ""
    return str(package.get("version", ""))


def _tsc(sandbox: Sandbox, scripts: list[str]) -> list[CheckResult]:
    node = shutil.which("node")
    if node is None or not TSC.is_file():
        missing = (
            "Node.js is not installed: install Node.js >= 20 to check TypeScript/JavaScript builds"
            if node is None
            else "TypeScript is not installed: run `make run` (or `npm ci` in acceptance/js)"
        )
        return [_failed_to_run("tsc --noEmit --strict", missing, path) for path in scripts]
    tools = sandbox.host_dir(_TOOLS)
    node_modules = sandbox.tool_path("node_modules")
    config = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "target": "es2022",
            "module": "esnext",
            "moduleResolution": "bundler",
            "allowJs": True,
            "checkJs": False,
            "allowImportingTsExtensions": True,
            "resolveJsonModule": True,
            "esModuleInterop": True,
            "skipLibCheck": True,
            "jsx": "preserve",
            "lib": ["es2022", "dom"],
            "types": ["node"],
            "typeRoots": [str(node_modules / "@types")],
        },
        "include": [f"{sandbox.workspace}/**/*"],
        "exclude": [f"{sandbox.workspace}/node_modules"],
    }
    (tools / "tsconfig.json").write_text(json.dumps(config, indent=2))
    execution = sandbox.run(
        [
            node,
            str(node_modules / "typescript" / "bin" / "tsc"),
            "-p",
            str(sandbox.tool_path(_TOOLS) / "tsconfig.json"),
            "--pretty",
            "false",
        ],
        tools={_TOOLS: tools, "node_modules": JS_DIR / "node_modules"},
        env={"NO_COLOR": "1"},
        timeout_s=settings.MGE_PRECISION_BUILD_TIMEOUT_SECONDS,
    )
    results = {
        path: CheckResult(LEVEL, SCOPE, CATEGORY, path, f"tsc --strict: {path} type-checks")
        for path in scripts
    }
    if execution.timed_out:
        for result in results.values():
            result.error = "tsc did not finish in its time limit"
        return list(results.values())
    prefix = f"{sandbox.workspace}/"
    general = CheckResult(LEVEL, SCOPE, CATEGORY, "", "tsc --strict: the project type-checks")
    for line in execution.output.splitlines():
        match = _TSC_LINE.match(line.strip())
        if match is None:
            continue
        path = match["file"].removeprefix(prefix)
        finding = Finding(
            Severity.HIGH, f"{match['code']}: {match['message']}", int(match["line"]), match["code"]
        )
        results.get(path, general).findings.append(finding)
    if execution.returncode not in (0, None) and not any(r.findings for r in results.values()):
        general.findings.append(
            Finding(
                Severity.HIGH,
                "tsc failed: " + (execution.output.strip().splitlines() or ["no output"])[-1],
            )
        )
    return [*results.values(), *([general] if general.findings else [])]


def _collect(workspace: Workspace, tests: list[TestFile]) -> list[CheckResult]:
    if not tests:
        return []
    try:
        errors, _ = collection_errors(Path(workspace.root), tests)
    except SandboxUnavailable as unavailable:
        return [
            _failed_to_run("pytest --collect-only", f"L4 did not run: {unavailable}", test.path)
            for test in tests
        ]
    results = []
    for test in tests:
        result = CheckResult(
            LEVEL, SCOPE, CATEGORY, test.path, f"the acceptance test {test.path} collects"
        )
        if test.key in errors:
            result.findings.append(
                Finding(
                    Severity.HIGH,
                    f"the acceptance test {test.path} does not collect: {errors[test.key]}",
                    None,
                    "collect",
                )
            )
        results.append(result)
    return results
