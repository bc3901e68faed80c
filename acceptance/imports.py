"""Which generated files a test imports: a test is due after a wave only once every file
it imports has been written (the per-wave gate counts only those)."""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from execution.llm.validation import parse_python

_JS_IMPORT = re.compile(
    r"""(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["'](\.{1,2}/[^"']+)["']"""
)


def imported_files(code: str, framework: str, test_path: str, files: Iterable[str]) -> set[str]:
    """The files among `files` (workspace-relative paths) that the test imports."""
    files = set(files)
    if framework == "vitest":
        by_stem = {str(PurePosixPath(path).with_suffix("")): path for path in files}
        found = set()
        for specifier in _JS_IMPORT.findall(code):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(test_path), specifier))
            found |= {path for path in (target, by_stem.get(target),
                      by_stem.get(str(PurePosixPath(target).with_suffix(""))))
                      if path in files}  # fmt: skip
        return found
    try:
        tree = parse_python(code)
    except SyntaxError:
        return set()
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
    packages = {".".join(m.split(".")[:depth]) for m in modules
                for depth in range(1, m.count(".") + 1)}  # fmt: skip
    candidates = {f"{m.replace('.', '/')}.py" for m in modules}
    candidates |= {f"{m.replace('.', '/')}/__init__.py" for m in modules | packages}
    return candidates & files
