"""L1, per generated file: it parses; ruff finds no real error (rules F and E9: undefined
names, names used before assignment …); it uses no forbidden construct (eval, exec,
`import *`, os.system, subprocess with shell=True; eval and `new Function` in TS/JS).

Ruff reads the code and never runs it, so it runs here, not in the sandbox; `--isolated`
ignores any ruff configuration a generated file could plant in the workspace, and
`--ignore-noqa` any `# noqa` a generated line could hide a finding behind.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable

from execution.llm.validation import parse_python, parse_tree, syntax_error
from precision.findings import CheckResult, Finding
from precision.models import Severity, ValidationCheck
from precision.sources import Source, Workspace

LEVEL, SCOPE = ValidationCheck.Level.ATOMIC, ValidationCheck.Scope.ATOM
RUFF = [sys.executable, "-m", "ruff"]
RUFF_TIMEOUT_S = 120
_C, _H, _M, _L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
# Code that fails when it runs: bad % and .format() calls, `is` with a literal, assert on
# a tuple, break/continue/return/yield outside their place, default except not last.
_ERROR_RULES = [
    *(f"F50{n}" for n in range(1, 10)), *(f"F52{n}" for n in range(1, 6)),
    "F601", "F602", "F621", "F622", "F631", "F633",
    "F701", "F702", "F704", "F706", "F707", "F722",
]  # fmt: skip
# Ruff rule → (category, severity). Rules not listed are `lint`, MEDIUM.
_RULES = {
    "F821": ("undefined-name", _C),
    "F822": ("undefined-name", _H),  # a name in __all__ that is not defined
    "F823": ("undefined-name", _H),  # a local used before its assignment
    "F401": ("unused-import", _L),
    "F811": ("lint", _M),
    "F841": ("lint", _L),
    "F403": ("lint", _M),  # reported as a forbidden construct too
    "F405": ("lint", _L),
    **dict.fromkeys(_ERROR_RULES, ("lint", _H)),
}


def check(workspace: Workspace, paths: Iterable[str] | None = None) -> list[CheckResult]:
    """The L1 checks of the workspace's source files (or of `paths` among them)."""
    wanted = set(paths) if paths is not None else None
    sources = [s for s in workspace.sources.values() if wanted is None or s.path in wanted]
    results: list[CheckResult] = []
    parsed_python: list[Source] = []
    for source in sources:
        if source.text is None:
            results.append(
                _check(
                    source.path,
                    "syntax",
                    f"{source.path} is read",
                    [Finding(_C, f"{source.path} {source.problem}")],
                )
            )
            continue
        problem = syntax_error(source.language, source.path, source.text)
        results.append(
            _check(
                source.path,
                "syntax",
                f"{source.path} parses",
                [Finding(_C, f"does not parse: {problem}", _line_of(problem))] if problem else [],
            )
        )
        if problem:
            continue
        if source.language == "python":
            parsed_python.append(source)
        results.append(
            _check(
                source.path,
                "forbidden-construct",
                f"{source.path} uses no forbidden construct",
                forbidden(source.language, source.path, source.text),
            )
        )
    results += _ruff(workspace, parsed_python)
    return results


def tool_versions() -> dict[str, str]:
    try:
        output = subprocess.run(
            [*RUFF, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"ruff": output.strip().removeprefix("ruff ")}


def _check(
    path: str, category: str, subject: str, findings: list[Finding], error: str = ""
) -> CheckResult:
    return CheckResult(LEVEL, SCOPE, category, path, subject, findings=findings, error=error)


def _line_of(problem: str) -> int | None:
    head = problem.removeprefix("line ").split(":", 1)[0]
    return int(head) if head.isdigit() else None


def _ruff(workspace: Workspace, sources: list[Source]) -> list[CheckResult]:
    if not sources:
        return []
    by_file: dict[str, dict[str, list[Finding]]] = {
        source.path: {category: [] for category in ("undefined-name", "unused-import", "lint")}
        for source in sources
    }
    command = [
        *RUFF,
        "check",
        "--isolated",
        "--select",
        "F,E9",
        "--output-format",
        "json",
        "--no-cache",
        "--exit-zero",
        "--ignore-noqa",
        "--",
        *[source.path for source in sources],
    ]
    try:
        completed = subprocess.run(
            command,
            cwd=workspace.root,
            capture_output=True,
            text=True,
            timeout=RUFF_TIMEOUT_S,
            check=False,
        )
        diagnostics = json.loads(completed.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError) as failure:
        error = f"ruff could not run ({failure}): install it with `make run` (requirements.txt)"
        return [
            _check(source.path, category, "", [], error)
            for source in sources
            for category in by_file[source.path]
        ]
    root = workspace.root.resolve()
    for diagnostic in diagnostics:
        try:
            path = str(root.joinpath(diagnostic["filename"]).resolve().relative_to(root))
        except ValueError:
            continue
        code = str(diagnostic.get("code") or "")
        category, severity = _RULES.get(code, ("lint", _C if code.startswith("E9") else _M))
        row = (diagnostic.get("location") or {}).get("row")
        if path in by_file:
            by_file[path][category].append(
                Finding(severity, f"{code} {diagnostic.get('message', '')}".strip(), row, code)
            )
    subjects = {
        "undefined-name": "every name it uses is defined",
        "unused-import": "every import is used",
        "lint": "ruff (F, E9) finds no error",
    }
    return [
        _check(path, category, f"{path}: {subjects[category]}", findings)
        for path, categories in by_file.items()
        for category, findings in categories.items()
    ]


# Every forbidden construct spells one of these: code without any needs no second parse
# (the engine asks this of every answer).
_PYTHON_MARKERS = ("eval", "exec", "*", "system", "popen", "shell")
_SCRIPT_MARKERS = ("eval", "Function")


def forbidden(language: str, path: str, code: str) -> list[Finding]:
    """The forbidden constructs of a file that parses."""
    if language == "python":
        return _python_forbidden(path, code) if _mentions(code, _PYTHON_MARKERS) else []
    return _script_forbidden(language, path, code) if _mentions(code, _SCRIPT_MARKERS) else []


def _mentions(code: str, markers: tuple[str, ...]) -> bool:
    return any(marker in code for marker in markers)


def retry_problem(language: str, path: str, code: str) -> str | None:
    """What the engine's retry loop feeds back (registered in PrecisionConfig.ready): the
    forbidden constructs, found in-process. Ruff's findings are recorded after each wave
    instead: a ruff process per answer would cost more CPU than the rest of an atom."""
    findings = forbidden(language, path, code)
    if not findings:
        return None
    listed = "; ".join(f"line {finding.line}: {finding.message}" for finding in findings[:5])
    return f"{path} uses forbidden constructs ({listed}); write it without them"


def _python_forbidden(path: str, code: str) -> list[Finding]:
    tree = parse_python(code, path)
    os_aliases, subprocess_aliases, system_names = {"os"}, {"subprocess"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "os" and alias.asname:
                    os_aliases.add(alias.asname)
                if alias.name == "subprocess" and alias.asname:
                    subprocess_aliases.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            system_names |= {
                alias.asname or alias.name
                for alias in node.names
                if alias.name in ("system", "popen")
            }
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
            findings.append(
                Finding(
                    _H,
                    f"`from {node.module or '.'} import *` hides which names the file uses",
                    node.lineno,
                    "import-star",
                )
            )
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in ("eval", "exec"):
            findings.append(
                Finding(
                    _H, f"`{function.id}()` runs code built at run time", node.lineno, function.id
                )
            )
        elif isinstance(function, ast.Name) and function.id in system_names:
            findings.append(
                Finding(_H, f"`{function.id}()` runs a shell command", node.lineno, "os-system")
            )
        elif isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
            owner, attribute = function.value.id, function.attr
            if owner in os_aliases and attribute in ("system", "popen"):
                findings.append(
                    Finding(
                        _H, f"`os.{attribute}()` runs a shell command", node.lineno, "os-system"
                    )
                )
            elif owner in subprocess_aliases and any(
                keyword.arg == "shell"
                and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
                for keyword in node.keywords
            ):
                findings.append(
                    Finding(
                        _H,
                        f"`subprocess.{attribute}(…, shell=True)` hands its command to a shell",
                        node.lineno,
                        "subprocess-shell",
                    )
                )
    return sorted(findings, key=lambda finding: finding.line or 0)


def _script_forbidden(language: str, path: str, code: str) -> list[Finding]:
    tree = parse_tree(language, path, code)
    findings = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type not in ("call_expression", "new_expression"):
            continue
        target = node.child_by_field_name(
            "function" if node.type == "call_expression" else "constructor"
        )
        name = target.text.decode() if target is not None and target.text else ""
        if node.type == "call_expression" and name == "eval":
            findings.append(
                Finding(_H, "`eval()` runs code built at run time", node.start_point[0] + 1, "eval")
            )
        elif node.type == "new_expression" and name == "Function":
            findings.append(
                Finding(
                    _H,
                    "`new Function()` runs code built at run time",
                    node.start_point[0] + 1,
                    "new-function",
                )
            )
    return sorted(findings, key=lambda finding: finding.line or 0)
