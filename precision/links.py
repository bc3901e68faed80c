"""L2 and L3: the links between the files — imports resolve, imported names exist, calls
across files pass what the signature takes, and no module-level import cycle.

An import between files of one task is judged at L2 (scope task); one that crosses into
another task's file is an interface between tasks, judged at L3 (scope milestone). Which
module an import names is always L2 (`imports`): a module no atom writes and nothing
installed provides is a task's mistake wherever it was meant to come from.

Imports under `if TYPE_CHECKING:` never run, conditional imports (in a `try` that catches
ImportError, or under an `if`) have a fallback, and imports inside functions run late:
their problems are findings of lower severity, and they make no cycle.
"""

from __future__ import annotations

import functools
import importlib.machinery
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings

from execution.dependencies import python_source, ts_source
from execution.dependencies.graph import strongly_connected
from execution.dependencies.python_source import Import, PythonModule
from execution.dependencies.ts_resolution import EXTERNAL, TsResolver
from execution.dependencies.ts_source import TsModule
from execution.dependencies.tsconfig import ConfigError, TsOptions, load_options
from precision.findings import CheckResult, Finding
from precision.models import Severity, ValidationCheck
from precision.sources import Workspace, workspace_files

L = ValidationCheck.Level
S = ValidationCheck.Scope
_C, _H, _M, _L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW


def check(workspace: Workspace, paths: Iterable[str] | None = None) -> list[CheckResult]:
    """The L2 and L3 checks of the imports in the workspace's files (or in `paths`), read
    against every file of the workspace."""
    wanted = set(paths) if paths is not None else None
    python = _PythonLinks(workspace)
    scripts = _ScriptLinks(workspace)
    results: list[CheckResult] = []
    for path in sorted(python.modules):
        if wanted is None or path in wanted:
            results += python.check_file(python.modules[path])
    results += python.cycles(wanted)
    for path in sorted(scripts.modules):
        if wanted is None or path in wanted:
            results += scripts.check_file(scripts.modules[path])
    return results


def _level(workspace: Workspace, importer: str, target: str) -> tuple[int, str]:
    if workspace.same_task(importer, target):
        return L.TASK, S.TASK
    return L.MILESTONE, S.MILESTONE


def _softened(severity: str, *, type_only: bool, conditional: bool, deferred: bool) -> str:
    if type_only:
        return _M
    if conditional:
        return _L
    if deferred and severity == _C:
        return _H
    return severity


@functools.cache
def _installed(top_level: str) -> bool:
    """Whether the environment the sandbox runs (this virtualenv, without the project's
    own directory) provides a top-level module."""
    if top_level in sys.stdlib_module_names or top_level in sys.builtin_module_names:
        return True
    project = settings.BASE_DIR.resolve()
    path = [entry for entry in sys.path if entry and Path(entry).resolve() != project]
    return importlib.machinery.PathFinder.find_spec(top_level, path) is not None


@dataclass(frozen=True)
class _Target:
    module: str
    path: str | None
    """The file of the module, None for a namespace package or an installed module."""
    in_workspace: bool


class _PythonLinks:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.modules: dict[str, PythonModule] = {}
        for source in workspace.readable("python"):
            try:
                self.modules[source.path] = python_source.analyse(source.path, source.text or "")
            except (SyntaxError, ValueError, RecursionError):
                continue  # L1 reports it
        self.by_name = {module.name: module for module in self.modules.values()}
        self.packages = {
            ".".join(PurePosixPath(path).parts[:depth])
            for path in self.modules
            for depth in range(1, len(PurePosixPath(path).parts))
        }
        self._exports: dict[str, set[str] | None] = {}

    # --- resolution ------------------------------------------------------------------

    def target(self, name: str) -> _Target | None:
        module = self.by_name.get(name)
        if module is not None:
            return _Target(name, module.path, True)
        if name in self.packages:
            return _Target(name, None, True)
        top = name.split(".")[0]
        if top in self.by_name or top in self.packages:
            return None  # a module of a workspace package that no file defines
        return _Target(name, None, False) if _installed(top) else None

    def exported(self, name: str) -> set[str] | None:
        """The names module `name` of the workspace binds at its top level, following
        `from … import *` through the workspace; None when any name may exist."""
        return _with_star_exports(name, self._exports, self._own_names, self._star_modules,
                                  keep=lambda exported: not exported.startswith("_"))  # fmt: skip

    def _own_names(self, name: str) -> set[str] | None:
        module = self.by_name.get(name)
        if module is None:
            return set()
        return None if module.dynamic else module.defined

    def _star_modules(self, name: str) -> list[str | None]:
        module = self.by_name.get(name)
        imports = module.imports if module else []
        stars = [imp.module for imp in imports if imp.star and not imp.deferred]
        return [
            star if (target := self.target(star)) and target.in_workspace else None
            for star in stars
        ]

    def has_name(self, module: str, name: str) -> bool:
        if f"{module}.{name}" in self.by_name or f"{module}.{name}" in self.packages:
            return True  # a submodule
        names = self.exported(module)
        return names is None or name in names

    # --- the checks ------------------------------------------------------------------

    def check_file(self, module: PythonModule) -> list[CheckResult]:
        results = []
        bound_to: dict[str, tuple[_Target, str]] = {}
        for imp in module.imports:
            flags = {
                "type_only": imp.type_only,
                "conditional": imp.conditional,
                "deferred": imp.deferred,
            }
            target = self.target(imp.module) if imp.module else None
            results.append(self._module_check(module, imp, target, flags))
            if target is None or not target.in_workspace or not imp.names:
                if target is not None and target.in_workspace and not imp.names:
                    bound_to[imp.bound_as] = (target, "")
                continue
            results.append(self._names_check(module, imp, target, flags))
            for name, bound in imp.names:
                bound_to[bound] = (target, name)
        results += self._call_checks(module, bound_to)
        return results

    def _module_check(
        self, module: PythonModule, imp: Import, target: _Target | None, flags: dict[str, bool]
    ) -> CheckResult:
        result = CheckResult(
            L.TASK, S.TASK, "imports", module.path, f"{imp.text}: resolves", line=imp.line
        )
        if target is not None:
            where = target.path or (
                "a package of the workspace" if target.in_workspace else "installed"
            )
            result.subject = f"{imp.text}: {imp.module} resolves ({where})"
            return result
        if not imp.module:
            problem = f"`{imp.text}` climbs above the workspace's top-level package"
        else:
            problem = (
                f"`{imp.text}`: no module {imp.module} — no atom writes "
                f"{imp.module.replace('.', '/')}.py and nothing installed provides it"
            )
        result.findings.append(Finding(_softened(_C, **flags), problem, imp.line, "unresolved"))
        return result

    def _names_check(
        self, module: PythonModule, imp: Import, target: _Target, flags: dict[str, bool]
    ) -> CheckResult:
        level, scope = _level(self.workspace, module.path, target.path or module.path)
        category = "contracts" if level == L.TASK else "interfaces"
        names = ", ".join(name for name, _ in imp.names)
        result = CheckResult(
            level, scope, category, module.path, f"{imp.module} defines {names}", line=imp.line
        )
        for name, _ in imp.names:
            if not self.has_name(imp.module, name):
                where = target.path or f"package {imp.module}"
                result.findings.append(
                    Finding(
                        _softened(_C, **flags),
                        f"`{imp.text}`: {where} does not define {name!r}",
                        imp.line,
                        "missing-name",
                    )
                )
        return result

    def _call_checks(
        self, module: PythonModule, bound_to: dict[str, tuple[_Target, str]]
    ) -> list[CheckResult]:
        by_callee: dict[tuple[str, str], CheckResult] = {}
        for call in module.calls:
            if call.unpacked:
                continue
            alias, _, attribute = call.name.partition(".")
            if alias in module.rebound or alias not in bound_to:
                continue
            target, name = bound_to[alias]
            if attribute:
                if name:  # `from pkg import mod`, then mod.f(): resolve the submodule
                    target = self.target(f"{target.module}.{name}") or target
                callee_module, callee = target.module, attribute
            else:
                callee_module, callee = target.module, name
            defining = self.by_name.get(callee_module)
            signature = defining.signatures.get(callee) if defining and callee else None
            if defining is None or signature is None:
                continue
            key = (callee_module, callee)
            if key not in by_callee:
                level, scope = _level(self.workspace, module.path, defining.path)
                by_callee[key] = CheckResult(
                    level,
                    scope,
                    "contracts",
                    module.path,
                    f"calls to {callee_module}.{callee} match its signature",
                    line=call.line,
                )
            problem = signature.problem(call.positional, list(call.keywords))
            if problem:
                by_callee[key].findings.append(
                    Finding(
                        _H,
                        f"{callee}() {problem} (defined in {defining.path})",
                        call.line,
                        "arity",
                    )
                )
        return list(by_callee.values())

    def cycles(self, wanted: set[str] | None) -> list[CheckResult]:
        """One check per milestone: no module-level import cycle runs through its files."""
        graph: dict[str, set[str]] = {path: set() for path in self.modules}
        lines: dict[tuple[str, str], int] = {}
        for path, module in self.modules.items():
            for imp in module.imports:
                if imp.type_only or imp.deferred or not imp.module:
                    continue
                for target in self._executed(imp):
                    if target != path or imp.module == module.name:
                        graph[path].add(target)
                        lines.setdefault((path, target), imp.line)
        cycles = [
            sorted(group)
            for group in strongly_connected(graph)
            if len(group) > 1 or next(iter(group)) in graph[next(iter(group))]
        ]
        milestones: dict[object, list[str]] = {}
        for path in sorted(self.modules):
            owner = self.workspace.owner(path)
            milestones.setdefault(owner.milestone_id if owner else None, []).append(path)
        results = []
        for paths in milestones.values():
            if wanted is not None and not wanted & set(paths):
                continue
            result = CheckResult(
                L.MILESTONE,
                S.MILESTONE,
                "integration",
                paths[0],
                f"no module-level import cycle through {len(paths)} files",
            )
            for cycle in cycles:
                inside = [path for path in cycle if path in paths]
                if not inside:
                    continue
                first = inside[0]
                following = next(target for target in sorted(graph[first]) if target in cycle)
                result.file = first
                result.findings.append(
                    Finding(
                        _H,
                        "module-level import cycle: "
                        + " → ".join([*cycle, cycle[0]])
                        + " (importing any of them fails or sees half-initialised modules)",
                        lines.get((first, following)),
                        "import-cycle",
                    )
                )
            if result.findings:
                result.line = result.findings[0].line
            results.append(result)
        return results

    def _executed(self, imp: Import) -> list[str]:
        """The workspace files whose names `imp` needs at once: the module it names (unless
        it only takes submodules of it), and the submodules a `from package import sub`
        names. The packages on the way are left
        out: a package's __init__ that imports its own submodules is the usual layout, and
        while it runs those submodules find it in sys.modules; only a name taken from a
        half-run module fails."""
        submodules = [self.by_name.get(f"{imp.module}.{name}") for name, _ in imp.names]
        files = [submodule.path for submodule in submodules if submodule is not None]
        module = self.by_name.get(imp.module)
        # `from pkg import sub` finds the submodule even while pkg/__init__ is half-run.
        takes_names = not imp.names or imp.star or None in submodules
        if module is not None and takes_names:
            files.append(module.path)
        return files


class _ScriptLinks:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.modules: dict[str, TsModule] = {
            source.path: ts_source.analyse(source.path, source.language, source.text or "")
            for source in workspace.readable()
            if source.language in ("typescript", "javascript")
        }
        self._exports: dict[str, set[str] | None] = {}
        self.packages = _declared_packages(workspace.root)
        try:
            options = load_options(workspace.root)
        except ConfigError:
            options = TsOptions()  # tsc (L4) reports the config; the links use the defaults
        # Resolved as the compiler resolves them: relative paths, and `paths` aliases.
        every_file = set(workspace_files(workspace.root))  # package.json, .d.ts files too
        self.resolver = TsResolver(workspace.root, every_file, options)

    def exported(self, path: str) -> set[str] | None:
        """The names a file exports, following `export * from` through the workspace
        (a default export is not re-exported); None when any name may exist."""
        return _with_star_exports(path, self._exports, self._own_names, self._star_files,
                                  keep=lambda exported: exported != "default")  # fmt: skip

    def _own_names(self, path: str) -> set[str] | None:
        module = self.modules.get(path)
        return None if module is None or module.commonjs else module.exports

    def _star_files(self, path: str) -> list[str | None]:
        module = self.modules.get(path)
        specifiers = module.star_from if module else []
        return [self._project_file(path, specifier, "reexport") for specifier in specifiers]

    def _project_file(self, importer: str, specifier: str, kind: str) -> str | None:
        target = self.resolver.resolve(importer, specifier, kind)
        return None if target == EXTERNAL else target

    def check_file(self, module: TsModule) -> list[CheckResult]:
        results = []
        for imp in module.imports:
            result = CheckResult(
                L.TASK, S.TASK, "imports", module.path, f"{imp.text}: resolves", line=imp.line
            )
            results.append(result)
            severity = _M if imp.type_only else (_H if imp.kind in ("dynamic", "require") else _C)
            target = self.resolver.resolve(module.path, imp.specifier, imp.kind)
            if target == EXTERNAL:
                bare = imp.specifier.removeprefix("node:")
                package = ts_source.package_name(bare)
                if imp.specifier.startswith("node:") or package in ts_source.NODE_BUILTINS:
                    result.subject = f"{imp.text}: a Node.js module"
                elif package in self.packages:
                    result.subject = f"{imp.text}: package {package}"
                else:
                    result.findings.append(
                        Finding(
                            _M,
                            f"`{imp.text}`: package {package!r} is not declared in the "
                            "workspace's package.json (L4's tsc reports it if it has no types)",
                            imp.line,
                            "undeclared-package",
                        )
                    )
                continue
            if target is None:
                result.findings.append(
                    Finding(
                        severity,
                        f"`{imp.text}`: {imp.specifier!r} names no file of the workspace "
                        f"(from {module.path}; tried the extensions .ts, .tsx, .js, .jsx and index "
                        "files)",
                        imp.line,
                        "unresolved",
                    )
                )
                continue
            result.subject = f"{imp.text}: resolves to {target}"
            if imp.names:
                results.append(self._names_check(module, imp, target))
        for line in module.dynamic_specifiers:
            results.append(
                CheckResult(
                    L.TASK,
                    S.TASK,
                    "imports",
                    module.path,
                    "a dynamic import",
                    line=line,
                    findings=[
                        Finding(
                            _L,
                            "a dynamic import or require whose specifier is not a "
                            "literal: what it loads cannot be checked",
                            line,
                            "non-literal",
                        )
                    ],
                )
            )
        return results

    def _names_check(self, module: TsModule, imp: ts_source.TsImport, target: str) -> CheckResult:
        level, scope = _level(self.workspace, module.path, target)
        category = "contracts" if level == L.TASK else "interfaces"
        result = CheckResult(
            level,
            scope,
            category,
            module.path,
            f"{target} exports {', '.join(imp.names)}",
            line=imp.line,
        )
        names = self.exported(target)
        if names is None:
            return result
        for name in imp.names:
            if name not in names:
                what = "has no default export" if name == "default" else f"does not export {name!r}"
                result.findings.append(
                    Finding(
                        _M if imp.type_only else _C,
                        f"`{imp.text}`: {target} {what}",
                        imp.line,
                        "missing-export",
                    )
                )
        return result


def _with_star_exports(
    key: str,
    memo: dict[str, set[str] | None],
    own: Callable[[str], set[str] | None],
    stars: Callable[[str], list[str | None]],
    keep: Callable[[str], bool],
) -> set[str] | None:
    """A module's own names and those of the modules it star-re-exports (`keep` says which
    of theirs pass on), memoised; None when any name may exist — its own names cannot be
    listed, or a star re-export names something outside the workspace."""
    if key in memo:
        return memo[key]
    memo[key] = set()  # a cycle of star re-exports adds nothing more
    names = own(key)
    if names is not None:
        names = set(names)
        for star in stars(key):
            more = _with_star_exports(star, memo, own, stars, keep) if star else None
            if more is None:
                names = None
                break
            names |= {name for name in more if keep(name)}
    memo[key] = names
    return names


def _declared_packages(root: Path) -> set[str]:
    declared: set[str] = set()
    manifest = root / "package.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
    except (OSError, ValueError):
        data = {}
    if isinstance(data, dict):
        for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
            section = data.get(key)
            if isinstance(section, dict):
                declared |= set(section)
    modules = root / "node_modules"
    if modules.is_dir():
        declared |= {entry.name for entry in modules.iterdir() if not entry.name.startswith("@")}
    return declared
