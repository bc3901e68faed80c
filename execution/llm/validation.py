"""L1 validation: does the generated file parse? Python with `ast`, TS/JS with tree-sitter."""

from __future__ import annotations

import ast
import threading
from pathlib import PurePosixPath

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser

_GRAMMARS = {
    "javascript": Language(tree_sitter_javascript.language()),
    "typescript": Language(tree_sitter_typescript.language_typescript()),
    "tsx": Language(tree_sitter_typescript.language_tsx()),
}
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
    suffix = PurePosixPath(file_path).suffix
    grammar = "tsx" if suffix == ".tsx" else language
    tree = _parser(grammar).parse(code.encode("utf-8"))
    if not tree.root_node.has_error:
        return None
    node = _first_error(tree.root_node)
    line = node.start_point[0] + 1
    if node.is_missing:
        return f"line {line}: missing {node.type!r}"
    snippet = node.text.decode("utf-8", "replace").splitlines()[0][:60] if node.text else ""
    return f"line {line}: syntax error near {snippet!r}"


def _first_error(root: Node) -> Node:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            return node
        if node.has_error:
            stack.extend(reversed(node.children))
    return root
