"""The file-level import graph of a source tree, Python and TS/JS, read (never run).

Python: `import`, `from … import` (a name that is a submodule is an edge to it), relative
imports at any depth, packages with or without `__init__.py`, `importlib.import_module` /
`__import__` with a literal; imports under `if TYPE_CHECKING:` are `type_import`.
TS/JS (tree-sitter): what the compiler resolves — import, `import type`, side-effect
imports, `export … from`, `import()` with a literal, `import x = require()`, and
`require()` in JavaScript files — through execution.dependencies.ts_resolution. Packages
are not project edges. What cannot be analysed (a syntax error, an unreadable or too
large file, a symlink loop, a non-literal dynamic import) is reported, and the rest of
the tree still is.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from execution.dependencies import python_source, ts_source
from execution.dependencies.ts_resolution import EXTERNAL, TsResolver
from execution.dependencies.tsconfig import TsOptions, load_options

PYTHON = (".py", ".pyi")
TS_JS = (".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")
_SKIPPED_DIRECTORIES = {"node_modules", "__pycache__", ".git", ".venv", "venv", ".tox"}
MAX_FILE_BYTES = 1_000_000
"""Bigger files are reported and not analysed: generated bundles, not source."""


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    kind: str
    """import, type_import, reexport, dynamic, require."""
    line: int

    def as_json(self) -> dict[str, object]:
        return {"from": self.source, "to": self.target, "kind": self.kind, "line": self.line}


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass(frozen=True, order=True)
class BarrelTarget:
    """An imported name that a barrel re-exports, and the file that defines it."""

    source: str
    line: int
    barrel: str
    name: str
    defined_in: str

    def as_json(self) -> dict[str, object]:
        return {"from": self.source, "line": self.line, "barrel": self.barrel,
                "name": self.name, "defined_in": self.defined_in}  # fmt: skip


@dataclass
class SourceGraph:
    files: list[str] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    unresolved: list[Problem] = field(default_factory=list)
    """Imports that name no file: non-literal dynamic imports, missing project files."""
    errors: list[Problem] = field(default_factory=list)
    """Files that could not be analysed, and why."""
    barrel_targets: list[BarrelTarget] = field(default_factory=list)
    """Beside each edge to a barrel: where each name it takes is defined."""

    def as_json(self) -> dict[str, object]:
        return {
            "files": self.files,
            "edges": [edge.as_json() for edge in self.edges],
            "unresolved": [problem.as_json() for problem in self.unresolved],
            "errors": [problem.as_json() for problem in self.errors],
            "barrel_targets": [target.as_json() for target in self.barrel_targets],
        }


def build_graph(root: Path, tsconfig: Path | None = None) -> SourceGraph:
    """Raises tsconfig.ConfigError for a config that cannot be read (a bad `extends`)."""
    root = root.resolve()
    graph = SourceGraph()
    every_file = set(_walk(root, graph.errors))
    options = load_options(root, tsconfig)
    sources = sorted(path for path in every_file if path.endswith(PYTHON + TS_JS))
    texts = {path: _read(root, path, graph.errors) for path in sources}
    graph.files = [path for path in sources if texts[path] is not None]
    python = [path for path in graph.files if path.endswith(PYTHON)]
    scripts = [path for path in graph.files if path.endswith(TS_JS)]
    _python_edges(python, texts, graph)
    _ts_edges(root, every_file, scripts, texts, options, graph)
    graph.edges = sorted(set(graph.edges))
    graph.unresolved.sort()
    graph.errors.sort()
    graph.barrel_targets.sort()
    return graph


def _walk(root: Path, errors: list[Problem]) -> Iterator[str]:
    """Every file under root, relative and POSIX; a directory reached twice through
    symlinks (a loop) is reported once and not entered again."""
    seen: set[str] = set()
    for folder, directories, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        relative = Path(folder).relative_to(root).as_posix()
        if real in seen:
            errors.append(Problem(relative, 0, "a symlink loop: this folder was already read"))
            directories[:] = []
            continue
        seen.add(real)
        directories[:] = sorted(
            name for name in directories
            if name not in _SKIPPED_DIRECTORIES and not name.startswith(".")
        )  # fmt: skip
        for name in files:
            yield name if relative == "." else f"{relative}/{name}"


def _read(root: Path, path: str, errors: list[Problem]) -> str | None:
    try:
        size = (root / path).stat().st_size
        if size > MAX_FILE_BYTES:
            errors.append(Problem(path, 0, f"not analysed: {size} bytes, over {MAX_FILE_BYTES}"))
            return None
        return (root / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        errors.append(Problem(path, 0, f"cannot be read: {error}"))
        return None


# --- Python -------------------------------------------------------------------------------


def _python_edges(paths: list[str], texts: dict[str, str | None], graph: SourceGraph) -> None:
    modules = {python_module_name(path): path for path in paths}
    for path in paths:
        try:
            module = python_source.analyse(_module_path(path), texts[path] or "")
        except SyntaxError as error:
            graph.errors.append(Problem(path, error.lineno or 0, f"syntax error: {error.msg}"))
            continue
        for imp in module.imports:
            kind = "type_import" if imp.type_only else "import"
            targets = [f"{imp.module}.{name}" for name, _ in imp.names if name != "*"]
            submodules = [modules[name] for name in targets if name in modules]
            if submodules:
                graph.edges += [Edge(path, target, kind, imp.line) for target in submodules]
            if not submodules or len(submodules) < len(targets) or imp.star:
                target = modules.get(imp.module)
                if target is not None and target != path:
                    graph.edges.append(Edge(path, target, kind, imp.line))
        for name, line in module.dynamic_imports:
            if name is None:
                graph.unresolved.append(Problem(path, line, "dynamic import of a computed name"))
            elif name in modules:
                graph.edges.append(Edge(path, modules[name], "dynamic", line))


def _module_path(path: str) -> str:
    """The path python_source reads module names from (a src/ layout's folder dropped)."""
    return path.removeprefix("src/") if path.startswith("src/") else path


def python_module_name(path: str) -> str:
    name, _ = python_source.module_name(posixpath.splitext(_module_path(path))[0] + ".py")
    return name


# --- TS/JS --------------------------------------------------------------------------------


def _ts_edges(
    root: Path,
    every_file: set[str],
    paths: list[str],
    texts: dict[str, str | None],
    options: TsOptions,
    graph: SourceGraph,
) -> None:
    resolver = TsResolver(root, every_file, options)
    modules: dict[str, ts_source.TsModule] = {}
    taken: list[tuple[str, ts_source.TsImport, str]] = []
    for path in paths:
        javascript = path.endswith((".js", ".jsx", ".mjs", ".cjs"))
        if javascript and not options.allow_js:
            continue  # not part of the compiler's program
        # The JavaScript grammar reads JSX; a .tsx file gets the TSX grammar by its name.
        module = ts_source.analyse(
            path, "javascript" if javascript else "typescript", texts[path] or ""
        )
        modules[path] = module
        if module.syntax_error is not None:
            graph.errors.append(Problem(path, module.syntax_error, "syntax error"))
        for line in module.dynamic_specifiers:
            graph.unresolved.append(Problem(path, line, "dynamic import of a computed specifier"))
        for imp in module.imports:
            if imp.kind == "require" and imp.call and not javascript:
                continue  # the compiler reads require() calls in JavaScript only
            target = resolver.resolve(path, imp.specifier, imp.kind)
            if target == EXTERNAL:
                continue
            if target is None:
                graph.unresolved.append(Problem(path, imp.line, f"{imp.specifier!r} names no file"))
                continue
            kind = "import" if imp.kind == "side_effect" else imp.kind
            graph.edges.append(Edge(path, target, kind, imp.line))
            if imp.names:
                taken.append((path, imp, target))
    barrels = _Barrels(modules, resolver)
    for path, imp, target in taken:
        for name in imp.names:
            defined_in = barrels.defining_file(target, name)
            if defined_in is not None and defined_in != target:
                graph.barrel_targets.append(BarrelTarget(path, imp.line, target, name, defined_in))


class _Barrels:
    """`resolve_barrel_files`: through `export { a } from` and `export * from` chains (any
    depth, cycles stopped), the file that declares a name a barrel exports."""

    def __init__(self, modules: dict[str, ts_source.TsModule], resolver: TsResolver) -> None:
        self.modules = modules
        self.resolver = resolver

    def defining_file(self, path: str, name: str, seen: frozenset[str] = frozenset()) -> str | None:
        module = self.modules.get(path)
        if module is None or path in seen:
            return None
        seen = seen | {path}
        if name in module.reexported:
            specifier, original = module.reexported[name]
            target = self._file(path, specifier)
            return (self.defining_file(target, original, seen) or target) if target else None
        if name in module.exports:
            return path
        if name == "default":
            return None  # `export *` does not re-export a default
        for specifier in module.star_from:
            target = self._file(path, specifier)
            found = self.defining_file(target, name, seen) if target else None
            if found:
                return found
        return None

    def _file(self, importer: str, specifier: str) -> str | None:
        target = self.resolver.resolve(importer, specifier, "reexport")
        return None if target in (None, EXTERNAL) else target
