"""What the LLM is asked for an atom, and how its answer becomes a file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from execution.document.export import plan_overview

ATOM_PROMPT_VERSION = "atom/2"
"""Raise it when the atom prompt's wording changes: cached answers to the old one stop
being used (caching.llm_cache keys on it)."""

SYSTEM_PROMPTS = {
    "python": (
        "You write one Python 3.11 module at a time for a larger code base. Use only the "
        "standard library and the modules you are shown. Type-hint public functions. "
        "Answer with the complete file in one ```python code block and nothing else."
    ),
    "typescript": (
        "You write one TypeScript (ES2022 modules, strict mode) file at a time for a larger "
        "code base. Import only from the files you are shown, with relative paths. Answer "
        "with the complete file in one ```typescript code block and nothing else."
    ),
    "javascript": (
        "You write one JavaScript (ES2022 modules) file at a time for a larger code base. "
        "Import only from the files you are shown, with relative paths. Answer with the "
        "complete file in one ```javascript code block and nothing else."
    ),
}
LANGUAGE_TAGS = {
    "python": {"python", "py", "python3"},
    "typescript": {"typescript", "ts", "tsx"},
    "javascript": {"javascript", "js", "jsx", "mjs"},
}
_CODE_BLOCK = re.compile(r"```([\w+.-]*)[^\n]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ContextFile:
    file_path: str
    language: str
    code: str


@dataclass(frozen=True)
class Retrieved:
    """A chunk of the plan's corpus a search found for an atom (execution.context)."""

    kind: str
    """`spec` (another atom's, from the plan) or `file` (written by an earlier wave)."""
    source: str
    text: str
    language: str


class NoCodeBlock(ValueError):
    pass


def plan_context(document_text: str) -> str:
    """The context every request of a plan shares (their shared context): the document's
    overview and requirements."""
    return f"## The masterplan\n\n{plan_overview(document_text)}\n"


def atom_prompt(
    *,
    masterplan_name: str,
    atom_name: str,
    file_path: str,
    language: str,
    spec: str,
    context: Sequence[ContextFile],
    previous_errors: Sequence[str],
    retrieved: Sequence[Retrieved] = (),
) -> str:
    """The user message for an atom. Its header lines identify the atom to offline answerers."""
    parts = [
        f"Masterplan: {masterplan_name}\nAtom: {atom_name}\nFile: {file_path}\n"
        f"Language: {language}\n",
        f"## What to write\n\n{spec.strip()}\n",
    ]
    parts += _files(
        "Files it builds on (already written)",
        [(item.file_path, item.language, item.code) for item in context],
    )
    parts += _files(
        "Other files of the code base it may use (already written)",
        [(chunk.source, chunk.language, chunk.text) for chunk in retrieved if chunk.kind == "file"],
    )
    specs = [chunk for chunk in retrieved if chunk.kind == "spec"]
    if specs:
        parts.append(
            "## Related parts of the plan (other files, to be written or written)\n\n"
            + "\n".join(f"- {chunk.text}" for chunk in specs)
            + "\n"
        )
    if previous_errors:
        parts.append(
            "## Your previous answers were rejected\n\n"
            + "\n".join(f"- attempt {n}: {error}" for n, error in enumerate(previous_errors, 1))
            + "\n\nFix these problems.\n"
        )
    parts.append(f"Answer with the complete contents of `{file_path}` in one ```{language} block.")
    return "\n".join(parts)


def _files(title: str, files: Sequence[tuple[str, str, str]]) -> list[str]:
    """A section of whole files (path, language, code), or nothing."""
    if not files:
        return []
    return [
        f"## {title}\n",
        *(f"### {path}\n\n```{language}\n{code.rstrip()}\n```\n" for path, language, code in files),
    ]


def extract_code(text: str, language: str) -> str:
    """The code of the answer's block for `language` (else its first block)."""
    blocks = _CODE_BLOCK.findall(text)
    if not blocks:
        raise NoCodeBlock(
            f"the answer has no code block; answer with the complete file in one ```{language} "
            "block"
        )
    tags = LANGUAGE_TAGS.get(language, {language})
    for tag, code in blocks:
        if tag.lower() in tags:
            return code
    return blocks[0][1]
