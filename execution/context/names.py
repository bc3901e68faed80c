"""The names a file defines and the names a spec mentions: what an atom's context must
hold (execution.context.build) and what an acceptance test may import."""

from __future__ import annotations

import ast
import re

from execution.llm.validation import parse_python

JS_LANGUAGES = {"typescript", "javascript"}
_TS_EXPORT = re.compile(
    r"^export\s+(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?"
    r"(?:function\*?|class|const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)",
    re.MULTILINE,
)
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_WORD = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset({
    "and", "any", "are", "but", "for", "from", "has", "have", "into", "its", "may", "must",
    "not", "one", "should", "such", "than", "that", "the", "then", "these", "this", "those",
    "was", "when", "which", "while", "with", "without",
})  # fmt: skip


def public_names(language: str, code: str) -> list[str]:
    """The names another module can import from this file."""
    if language in JS_LANGUAGES:
        return list(dict.fromkeys(_TS_EXPORT.findall(code)))
    try:
        tree = parse_python(code)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return [name for name in names if not name.startswith("_")]


_DEFINED_IN_SPEC = re.compile(
    r"\b(?:[Dd]efines?|[Ee]xports?|[Dd]eclares?)\s+(?:(?:a|an|the|class|function|type|"
    r"interface|constant|enum)\s+)*`([A-Za-z_$][\w$]*)"
)


def defined_in_spec(spec: str) -> list[str]:
    """The names a spec says its file defines ("Define class `UniqueSlugger(...)`"): what
    the file will be found by before it is written."""
    return list(dict.fromkeys(_DEFINED_IN_SPEC.findall(spec)))


def identifiers(text: str) -> set[str]:
    """Every identifier-shaped word of a text (case kept: `Bus` is not `bus`)."""
    return set(_IDENTIFIER.findall(text))


def search_terms(text: str) -> list[str]:
    """A text as the words a full-text search matches, sorted and unique: lowercased, split
    where both PostgreSQL's and SQLite FTS5's tokenizers split (`fold_accents` is `fold`
    and `accents`), without one- and two-letter words and common English ones."""
    return sorted({word for word in _WORD.findall(text.lower()) if len(word) > 2} - STOP_WORDS)
