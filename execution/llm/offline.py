"""Deterministic LLM answers without a network: the `offline` provider and the stub server.

An atom prompt starts with a header (see execution.llm.prompts):

    Masterplan: slugkit
    Atom: slugify
    File: slugkit/slugify.py
    Language: python

The answer is the file stored for it under `examples/responses/<masterplan>/<file>`
(real code for the example masterplans), else a small valid module named after the
atom, so any generated plan (benchmarks) runs too.

An acceptance-test prompt starts with

    Acceptance test for requirement R3 of masterplan "slugkit"
    Framework: pytest
    Test file: tests/acceptance/test_r03.py

and is answered with `examples/responses/<masterplan>/_acceptance/R3.py` (pytest) or
`R3.test.ts` (vitest). There is no made-up answer for a test: a test that checks nothing
would pass the release gate, so a missing file raises NoOfflineAnswer and the generator
falls back to its own template.

Token counts are estimated from the text (about four characters a token), as a real
model would report them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from execution.llm.types import LLMError, LLMRequest, LLMResponse, Usage
from execution.runtime.workspace import WorkspacePathError, resolve_in_workspace

_HEADER_FIELD = re.compile(r"^(Masterplan|Atom|File|Language): (.+)$", re.MULTILINE)
# Anchored at the start of the message: an atom prompt quotes specs and code, which could
# contain such lines, but only a test-generation request begins with them. The name is
# greedy up to the last quote of its line, so a name with quotes in it still parses.
_ACCEPTANCE_HEADER = re.compile(
    r'\A\s*Acceptance test for requirement R(\d+) of masterplan "(.*)"[ \t]*\r?\n'
    r"Framework: (\S+)[ \t]*\r?\n"
    r"Test file: (\S.*?)[ \t]*$",
    re.MULTILINE,
)
# An LLMRequest's messages, or the stub server's JSON ones, whose content may be blocks.
Messages: TypeAlias = Sequence[Mapping[str, object]]
# Framework -> (suffix of the stored file after "R<n>", tag of the answer's code block).
ACCEPTANCE_FRAMEWORKS = {"pytest": (".py", "python"), "vitest": (".test.ts", "typescript")}
ACCEPTANCE_DIR = "_acceptance"


class NoOfflineAnswer(LLMError):
    """The offline provider has nothing stored for this request.

    Status 400 like the real API's invalid_request_error, so nothing retries it and the
    stub server can answer it as one.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=400)


@dataclass(frozen=True)
class AtomPrompt:
    masterplan: str
    atom: str
    file: str
    language: str


@dataclass(frozen=True)
class AcceptancePrompt:
    masterplan: str
    requirement: int
    """n of the requirement's label R<n>."""
    framework: str
    test_file: str

    @property
    def label(self) -> str:
        return f"R{self.requirement}"


def _first_user_text(messages: Messages) -> str | None:
    first = next((m for m in messages if m.get("role") == "user"), None)
    content = first.get("content") if first else None
    if isinstance(content, list):  # content blocks
        content = "\n".join(block.get("text", "") for block in content if isinstance(block, dict))
    return content if isinstance(content, str) else None


def acceptance_prompt_of(messages: Messages) -> AcceptancePrompt | None:
    """The acceptance test a message list asks for, from its first user message's header."""
    content = _first_user_text(messages)
    match = _ACCEPTANCE_HEADER.match(content) if content is not None else None
    if match is None:
        return None
    number, masterplan, framework, test_file = match.groups()
    return AcceptancePrompt(masterplan, int(number), framework, test_file)


def atom_prompt_of(messages: Messages) -> AtomPrompt | None:
    """The atom an Anthropic-style message list asks for, from its first user message."""
    content = _first_user_text(messages)
    if content is None or acceptance_prompt_of(messages) is not None:
        return None
    fields = dict(_HEADER_FIELD.findall(content))
    if not {"Masterplan", "Atom", "File", "Language"} <= set(fields):
        return None
    return AtomPrompt(
        fields["Masterplan"].strip(),
        fields["Atom"].strip(),
        fields["File"].strip(),
        fields["Language"].strip(),
    )


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def input_tokens_of(system: str, messages: Messages) -> int:
    """The input tokens the offline answers (and the stub) bill for a prompt."""
    return estimate_tokens(system + "".join(str(m.get("content", "")) for m in messages))


class OfflineResponder:
    def __init__(self, responses_dir: Path) -> None:
        self.responses_dir = responses_dir

    def _stored(self, prompt: AtomPrompt) -> Path | None:
        try:
            # Both parts come from a user's document: confine the joined path, so neither
            # a masterplan named "../.." nor a file path can read outside the folder.
            stored = resolve_in_workspace(self.responses_dir, f"{prompt.masterplan}/{prompt.file}")
        except WorkspacePathError:
            return None
        return stored if stored.is_file() else None

    def code_for(self, prompt: AtomPrompt) -> str:
        return self._code_and_origin(prompt)[0]

    def _code_and_origin(self, prompt: AtomPrompt) -> tuple[str, bool]:
        """The stored code, or a stand-in module that only names the atom (True): code
        that must never read as generated."""
        stored = self._stored(prompt)
        if stored:
            return stored.read_text(encoding="utf-8"), False
        return _synthesised_module(prompt), True

    def acceptance_test_for(self, prompt: AcceptancePrompt) -> str:
        """The stored test of the requirement for the framework; NoOfflineAnswer if none."""
        missing = NoOfflineAnswer(
            f"the offline provider has no acceptance test for {prompt.label} of "
            f"{prompt.masterplan} ({prompt.framework})"
        )
        if prompt.framework not in ACCEPTANCE_FRAMEWORKS:
            raise missing
        suffix, _ = ACCEPTANCE_FRAMEWORKS[prompt.framework]
        try:
            # The masterplan name comes from a user's document: confine the path as for atoms.
            stored = resolve_in_workspace(
                self.responses_dir,
                f"{prompt.masterplan}/{ACCEPTANCE_DIR}/{prompt.label}{suffix}",
            )
        except WorkspacePathError:
            raise missing from None
        if not stored.is_file():
            raise missing
        return stored.read_text(encoding="utf-8")

    def answer(self, system: str, messages: Messages) -> tuple[str, Usage]:
        """The answer text and its usage; raises NoOfflineAnswer for an acceptance test that
        is not stored."""
        text, usage, _placeholder = self.answer_with_origin(system, messages)
        return text, usage

    def answer_with_origin(self, system: str, messages: Messages) -> tuple[str, Usage, bool]:
        """`answer`, and whether the code is a stand-in (no stored file for the atom)."""
        placeholder = False
        acceptance = acceptance_prompt_of(messages)
        prompt = atom_prompt_of(messages)
        if acceptance is not None:
            code = self.acceptance_test_for(acceptance)
            tag = ACCEPTANCE_FRAMEWORKS[acceptance.framework][1]
            text = f"```{tag}\n{code.rstrip()}\n```\n"
        elif prompt is None:
            text = "I can only write atoms: the prompt has no Masterplan/Atom/File header."
        else:
            code, placeholder = self._code_and_origin(prompt)
            text = f"```{prompt.language}\n{code.rstrip()}\n```\n"
        usage = Usage(
            input_tokens=input_tokens_of(system, messages), output_tokens=estimate_tokens(text)
        )
        return text, usage, placeholder


def _synthesised_module(prompt: AtomPrompt) -> str:
    identifier = re.sub(r"\W", "_", prompt.atom) or "atom"
    if identifier[0].isdigit():
        identifier = f"atom_{identifier}"
    if prompt.language == "python":
        return f'"""{prompt.atom}."""\n\n\ndef {identifier}() -> str:\n    return "{prompt.atom}"\n'
    annotation = ": string" if prompt.language == "typescript" else ""
    return f'export function {identifier}(){annotation} {{\n  return "{prompt.atom}";\n}}\n'


class OfflineProvider:
    """Answers from OfflineResponder after a configurable latency, like a remote model."""

    name = "offline"

    def __init__(self, responder: OfflineResponder, latency_seconds: float) -> None:
        self.responder = responder
        self.latency_seconds = latency_seconds

    def count_tokens(self, request: LLMRequest) -> int:
        return input_tokens_of(request.system + request.shared_context, request.messages)

    def probe(self, model: str) -> None:
        """Always up: the answers are on disk."""

    def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        text, usage, placeholder = self.responder.answer_with_origin(
            request.system + request.shared_context, request.messages
        )
        time.sleep(self.latency_seconds)
        return LLMResponse(
            text=text,
            model=request.model,
            usage=usage,
            latency_seconds=time.perf_counter() - started,
            placeholder=placeholder,
        )
