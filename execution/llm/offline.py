"""Deterministic LLM answers without a network: the `offline` provider and the stub server.

An atom prompt starts with a header (see execution.prompts):

    Masterplan: slugkit
    Atom: slugify
    File: slugkit/slugify.py
    Language: python

The answer is the file stored for it under `examples/responses/<masterplan>/<file>`
(real code for the example masterplans), else a small valid module named after the
atom, so any generated plan (benchmarks) runs too. Token counts are estimated from the
text (about four characters a token), as a real model would report them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from execution.llm.types import LLMRequest, LLMResponse, Usage
from execution.workspace import WorkspacePathError, resolve_in_workspace

_HEADER_FIELD = re.compile(r"^(Masterplan|Atom|File|Language): (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class AtomPrompt:
    masterplan: str
    atom: str
    file: str
    language: str


def atom_prompt_of(messages: list[dict[str, str]]) -> AtomPrompt | None:
    """The atom an Anthropic-style message list asks for, from its first user message."""
    first = next((m for m in messages if m.get("role") == "user"), None)
    content = first.get("content") if first else None
    if isinstance(content, list):  # content blocks
        content = "\n".join(block.get("text", "") for block in content if isinstance(block, dict))
    if not isinstance(content, str):
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


class OfflineResponder:
    def __init__(self, responses_dir: Path) -> None:
        self.responses_dir = responses_dir

    def code_for(self, prompt: AtomPrompt) -> str:
        try:
            # Both parts come from a user's document: confine the joined path, so neither
            # a masterplan named "../.." nor a file path can read outside the folder.
            stored = resolve_in_workspace(self.responses_dir, f"{prompt.masterplan}/{prompt.file}")
        except WorkspacePathError:
            stored = None
        if stored and stored.is_file():
            return stored.read_text(encoding="utf-8")
        return _synthesised_module(prompt)

    def answer(self, system: str, messages: list[dict[str, str]]) -> tuple[str, Usage]:
        prompt = atom_prompt_of(messages)
        if prompt is None:
            text = "I can only write atoms: the prompt has no Masterplan/Atom/File header."
        else:
            text = f"```{prompt.language}\n{self.code_for(prompt).rstrip()}\n```\n"
        prompt_text = system + "".join(str(m.get("content", "")) for m in messages)
        usage = Usage(
            input_tokens=estimate_tokens(prompt_text), output_tokens=estimate_tokens(text)
        )
        return text, usage


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

    def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        text, usage = self.responder.answer(request.system, request.messages)
        time.sleep(self.latency_seconds)
        return LLMResponse(
            text=text,
            model=request.model,
            usage=usage,
            latency_seconds=time.perf_counter() - started,
        )
