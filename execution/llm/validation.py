"""L1 validation in the LLM loop: does the generated file parse (Python with `ast`, TS/JS with
tree-sitter), and do the checks other apps register (the precision app's forbidden
constructs) find nothing that fails it? What they say is fed back in the next request."""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from pathlib import PurePosixPath

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Tree

_GRAMMARS = {
    "javascript": Language(tree_sitter_javascript.language()),
    "typescript": Language(tree_sitter_typescript.language_typescript()),
    "tsx": Language(tree_sitter_typescript.language_tsx()),
}
CodeCheck = Callable[[str, str, str], str | None]
"""(language, file path, code) → the problem that fails the file, or None."""
_code_checks: list[CodeCheck] = []
_parsers = threading.local()  # a tree-sitter Parser must not be shared between threads
_python_parse = threading.Lock()


def parse_python(code: str, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse`, one thread at a time. Before 3.11.8, CPython kept the AST
    constructor's recursion depth in state shared by the interpreter's threads, and a
    garbage collection inside one parse can let another thread's parse run: one of them
    then fails with SystemError "AST constructor recursion depth mismatch"
    (python/cpython#106905, fixed by #113476). The engine's atom threads validate at
    once: a wave job in the test suite lost an atom to it on 3.11.7. The standard
    library's own parses (traceback's caret placement) are not behind this lock: a
    Python of 3.11.8 or later is the whole fix."""
    with _python_parse:
        return ast.parse(code, filename=filename)


def grammar_of(language: str, file_path: str) -> str:
    """The tree-sitter grammar of a TS/JS file: .tsx files need the TSX one."""
    return "tsx" if PurePosixPath(file_path).suffix == ".tsx" else language


def parse_tree(language: str, file_path: str, code: str) -> Tree:
    """The tree-sitter tree of a TypeScript or JavaScript file (errors are nodes in it)."""
    return _parser(grammar_of(language, file_path)).parse(code.encode("utf-8"))


def _parser(grammar: str) -> Parser:
    cache: dict[str, Parser] = getattr(_parsers, "by_grammar", None) or {}
    _parsers.by_grammar = cache
    if grammar not in cache:
        cache[grammar] = Parser(_GRAMMARS[grammar])
    return cache[grammar]


def syntax_error(language: str, file_path: str, code: str) -> str | None:
    """None when `code` parses, else the first problem with its line."""
    if language == "python":
        try:
            parse_python(code, file_path)
        except SyntaxError as error:
            return f"line {error.lineno}: {error.msg}"
        return None
    tree = parse_tree(language, file_path, code)
    if not tree.root_node.has_error:
        return None
    node = first_error(tree.root_node)
    line = node.start_point[0] + 1
    if node.is_missing:
        return f"line {line}: missing {node.type!r}"
    snippet = node.text.decode("utf-8", "replace").splitlines()[0][:60] if node.text else ""
    return f"line {line}: syntax error near {snippet!r}"


def first_error(root: Node) -> Node:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            return node
        if node.has_error:
            stack.extend(reversed(node.children))
    return root


def register_code_check(check: CodeCheck) -> None:
    """Called from an app's `ready()` (which may run twice): each check once."""
    if check not in _code_checks:
        _code_checks.append(check)


def code_problem(language: str, file_path: str, code: str) -> str | None:
    """The first thing that fails a generated file: it does not parse, or a registered
    check's finding. Cheap, in-process checks only: this runs for every answer."""
    problem = syntax_error(language, file_path, code)
    if problem:
        return f"{file_path} does not parse: {problem}"
    for check in _code_checks:
        problem = check(language, file_path, code)
        if problem:
            return problem
    return None
