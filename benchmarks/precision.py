"""L1–L4 validation of a 200-file workspace (160 Python files in 8 packages, 40 TypeScript
files), every file importing and calling its neighbours, with the plan in a fresh
PostgreSQL database. The target: `validation_s` < 10 s on a 2-core machine.

Printed, in one run:
    validation_s         L1–L4 (ruff, the L2/L3 analysis, compileall and tsc in the sandbox)
    l1_l3_s              what runs after each wave (no sandbox)
    compileall_s         baseline: a bare `python -m compileall` of the same tree, no sandbox
    validation_vs_compileall   the ratio of the first to the last

    python benchmarks/precision.py        (make bench runs it)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from _services import fresh_database, setup_django

DATABASE = "mge_bench_precision"
PACKAGES, MODULES_PER_PACKAGE, TS_FILES = 8, 20, 40


def python_module(package: int, index: int) -> str:
    previous = f"from p{package}.m{index - 1} import f{package}_{index - 1}\n" if index else ""
    call = f"f{package}_{index - 1}(value, scale=2)" if index else "value"
    return (
        f'"""Module {index} of package {package}."""\n\n{previous}\n\n'
        f"def f{package}_{index}(value: int, *, scale: int = 1) -> int:\n"
        f"    return {call} * scale\n\n\n"
        f"class C{package}_{index}:\n"
        f"    def __init__(self, name: str, size: int = 0) -> None:\n"
        f"        self.name, self.size = name, size\n"
    )


def ts_module(index: int) -> str:
    previous = f"import {{ t{index - 1} }} from './t{index - 1}';\n\n" if index else ""
    body = f"t{index - 1}(value) + 1" if index else "value"
    return f"{previous}export function t{index}(value: number): number {{\n  return {body};\n}}\n"


def plan_document() -> str:
    lines = ["---", "name: precision-bench", "---", "", "## Plan", "", "```yaml", "phases:",
             "  - name: P", "    milestones:"]  # fmt: skip
    for package in range(PACKAGES):
        lines += [f"      - name: M{package}", "        tasks:", f"          - name: T{package}",
                  "            atoms:"]  # fmt: skip
        files = [f"p{package}/__init__.py"] + [
            f"p{package}/m{index}.py" for index in range(MODULES_PER_PACKAGE - 1)
        ]
        if package == 0:
            files += [f"web/t{index}.ts" for index in range(TS_FILES)]
        for path in files:
            name = path.replace("/", "_").replace(".", "_")
            lines += [f"              - name: {name}", f"                file: {path}",
                      f"                spec: Write {path}."]  # fmt: skip
    return "\n".join([*lines, "```", ""])


def write_workspace(root: Path) -> int:
    files = 0
    for package in range(PACKAGES):
        (root / f"p{package}").mkdir(parents=True)
        (root / f"p{package}" / "__init__.py").write_text(
            f"from p{package}.m0 import f{package}_0\n\n__all__ = ['f{package}_0']\n"
        )
        files += 1
        for index in range(MODULES_PER_PACKAGE - 1):
            (root / f"p{package}" / f"m{index}.py").write_text(python_module(package, index))
            files += 1
    (root / "web").mkdir()
    for index in range(TS_FILES):
        (root / "web" / f"t{index}.ts").write_text(ts_module(index))
        files += 1
    return files


def main() -> None:
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "REDIS_URL": os.environ.get("MGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        "MGE_LOG_LEVEL": "WARNING",
        "MGE_ACCEPTANCE_AFTER_WAVES": "false",
        "MGE_PRECISION_AFTER_WAVES": "false",
        "MGE_DEPENDENCIES_AFTER_WAVES": "false",
    }
    fresh_database(DATABASE, environment)
    setup_django(environment)
    from execution.actions import import_masterplan
    from precision.validation import validate

    masterplan = import_masterplan(plan_document())
    root = Path(masterplan.workspace_path)
    files = write_workspace(root)

    started = time.monotonic()
    run = validate(masterplan)
    validation_s = time.monotonic() - started
    failing = run.checks.filter(passed=False).count()
    if failing or run.files != files:
        problems = list(run.checks.filter(passed=False).values_list("file", "message")[:5])
        raise SystemExit(f"the benchmark workspace should validate clean: {problems}")

    started = time.monotonic()
    validate(masterplan, (1, 2, 3))
    l1_l3_s = time.monotonic() - started

    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-f", str(root)], check=True,
                   env={**environment, "PYTHONDONTWRITEBYTECODE": ""})  # fmt: skip
    compileall_s = time.monotonic() - started

    print(f"files: {files}")
    print(f"checks: {run.checks.count()}")
    print(f"isolation: {run.isolation}")
    print(f"validation_s: {validation_s:.2f}")
    print(f"l1_l3_s: {l1_l3_s:.2f}")
    print(f"compileall_s: {compileall_s:.2f}")
    print(f"validation_vs_compileall: {validation_s / compileall_s:.1f}")


if __name__ == "__main__":
    main()
