"""The requirements of a masterplan, from the first of three places that has them:

1. the front matter's `requirements` (checked by execution.document.format);
2. the `## Requirements` section:

   ```
   ## Requirements
   ### MUST
   - Slugs contain only lowercase letters, digits and hyphens
     - (a nested bullet or an indented line continues the requirement above)
   ### SHOULD
   - Slugify handles 10,000 titles in under a second
   ```

3. else the prose: its sentences that carry a requirement keyword (see
   acceptance.classifier.states_requirement), outside code blocks, headings and `## Plan`.

Each requirement keeps its line in the whole document.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from itertools import accumulate

from acceptance.classifier import states_requirement
from execution.document.format import (
    PLAN_HEADING,
    FormatProblem,
    MasterPlanDocument,
    MasterPlanFormatError,
    RequirementSpec,
)

SECTION_HEADING = "## Requirements"
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])(?:\s+(.*))?$")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s|$)")
_PRIORITY_HEADING = re.compile(r"^###\s+(\w+)")
PRIORITIES = {"MUST": "must", "SHOULD": "should"}
# The end of a sentence: ., ! or ? (and a closing quote or bracket) before a space.
_SENTENCE_END = re.compile(r"[.!?][\"'’”)\]]*(?=\s)")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|vs|cf)\.$", re.IGNORECASE)


def parse_requirements(document: MasterPlanDocument) -> list[RequirementSpec]:
    body, first_line = document.body, document.body_first_line
    section_line = next(
        (number for number, line in _markdown_lines(body, first_line) if line == SECTION_HEADING),
        None,
    )
    if document.front_matter_requirements is not None:
        if section_line is not None:
            raise MasterPlanFormatError(
                [
                    FormatProblem(
                        section_line,
                        "the front matter lists the requirements already: keep them either "
                        "there or in this section",
                    )
                ]
            )
        return document.front_matter_requirements
    if section_line is not None:
        return parse_structured_requirements(body, first_line)
    return parse_prose_requirements(body, first_line)


def _markdown_lines(body: str, first_line: int) -> Iterator[tuple[int, str | None]]:
    """Each line of `body` with its number, right-stripped; None for a line of code."""
    fence: str | None = None  # the fence of the code block the line is in
    for index, raw in enumerate(body.split("\n")):
        number, stripped = first_line + index, raw.strip()
        opening = _FENCE.match(stripped)
        if fence is not None:
            # Only a bare fence at least as long closes the block: ``` inside ```` is code.
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            yield number, None
        elif opening:
            fence = opening.group(1)
            yield number, None
        else:
            yield number, raw.rstrip()


def parse_structured_requirements(body: str, first_line: int = 1) -> list[RequirementSpec]:
    """Requirements of the `## Requirements` section; `first_line` is the body's first line."""
    found: list[tuple[list[str], str, int]] = []
    problems: list[FormatProblem] = []
    in_section = False
    priority: str | None = None
    current: list[str] | None = None  # the parts of the requirement an indented line continues
    for line_number, line in _markdown_lines(body, first_line):
        if line is None:
            continue
        if line.startswith("## ") or line.startswith("# "):
            in_section = line == SECTION_HEADING
            priority = current = None
            continue
        if not in_section or not line.strip():
            continue
        heading = _PRIORITY_HEADING.match(line)
        if heading:
            current = None
            priority = PRIORITIES.get(heading.group(1).upper())
            if priority is None:
                problems.append(
                    FormatProblem(
                        line_number,
                        f"unknown requirement list {line!r}: use '### MUST' or '### SHOULD'",
                    )
                )
            continue
        bullet = _BULLET.match(line)
        if bullet and not bullet.group(1):
            if priority is None:
                problems.append(
                    FormatProblem(
                        line_number,
                        "this requirement is not under a '### MUST' or '### SHOULD' list",
                    )
                )
                continue
            current = [(bullet.group(2) or "").strip()]
            found.append((current, priority, line_number))
        elif current is not None and line[:1].isspace():
            # A nested bullet or an indented continuation belongs to the requirement above.
            current.append(((bullet.group(2) or "") if bullet else line).strip())
    requirements = []
    for parts, level, line_number in found:
        text = " ".join(part for part in parts if part)
        if not text:
            problems.append(FormatProblem(line_number, "this requirement is empty"))
        requirements.append(RequirementSpec(text, level, line_number))
    if problems:
        raise MasterPlanFormatError(problems)
    return requirements


def parse_prose_requirements(body: str, first_line: int = 1) -> list[RequirementSpec]:
    """The sentences of the prose that state a requirement (questions do not)."""
    return [
        RequirementSpec(sentence, None, line)
        for block in _prose_blocks(body, first_line)
        for sentence, line in _sentences(block)
        if not sentence.endswith("?") and states_requirement(sentence)
    ]


def _prose_blocks(body: str, first_line: int) -> Iterator[list[tuple[int, str]]]:
    """The paragraphs and list items of the prose, as their lines' numbers and texts:
    no code, no headings, nothing of the `## Plan` section."""
    block: list[tuple[int, str]] = []
    in_plan = False
    for line_number, line in _markdown_lines(body, first_line):
        bullet = _BULLET.match(line) if line is not None else None
        if line is None or not line.strip() or bullet or _HEADING.match(line):
            if block:
                yield block
            block = []
        if line is None or not line.strip():
            continue
        if _HEADING.match(line):
            if line.startswith("## ") or line.startswith("# "):
                in_plan = line == PLAN_HEADING
            continue
        if not in_plan:
            text = (bullet.group(2) or "") if bullet else line.strip().lstrip("> ")
            block.append((line_number, text))
    if block:
        yield block


def _sentences(block: list[tuple[int, str]]) -> Iterator[tuple[str, int]]:
    """Each sentence of a block, with the line it starts on."""
    text = " ".join(part for _, part in block)
    starts = list(accumulate((len(part) + 1 for _, part in block[:-1]), initial=0))
    start = 0
    for end in [*_SENTENCE_END.finditer(text), None]:
        if end is not None and _ABBREVIATION.search(text, 0, end.start() + 1):
            continue
        stop = end.end() if end else len(text)
        chunk = text[start:stop]
        sentence = chunk.strip()
        if sentence:
            first = start + len(chunk) - len(chunk.lstrip())
            yield sentence, block[bisect.bisect_right(starts, first) - 1][0]
        start = stop
