"""Requirements from a masterplan's markdown: the `## Requirements` section.

```
## Requirements
### MUST
- Slugs contain only lowercase letters, digits and hyphens
  - (a nested bullet or an indented line continues the requirement above)
### SHOULD
- Slugify handles 10,000 titles in under a second
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from execution.masterplan_format import FormatProblem, MasterPlanFormatError

SECTION_HEADING = "## Requirements"
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])(?:\s+(.*))?$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PRIORITY_HEADING = re.compile(r"^###\s+(\w+)")
PRIORITIES = {"MUST": "must", "SHOULD": "should"}


@dataclass(frozen=True)
class ParsedRequirement:
    text: str
    priority: str
    line: int


def parse_structured_requirements(body: str, first_line: int = 1) -> list[ParsedRequirement]:
    """Requirements of the `## Requirements` section; `first_line` is the body's first line."""
    found: list[tuple[list[str], str, int]] = []
    problems: list[FormatProblem] = []
    in_section = in_fence = False
    priority: str | None = None
    current: list[str] | None = None  # the parts of the requirement an indented line continues
    for index, raw in enumerate(body.split("\n")):
        line_number = first_line + index
        line = raw.rstrip()
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
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
        elif current is not None and raw[:1].isspace():
            # A nested bullet or an indented continuation belongs to the requirement above.
            current.append(((bullet.group(2) or "") if bullet else line).strip())
    requirements = []
    for parts, level, line_number in found:
        text = " ".join(part for part in parts if part)
        if not text:
            problems.append(FormatProblem(line_number, "this requirement is empty"))
        requirements.append(ParsedRequirement(text, level, line_number))
    if problems:
        raise MasterPlanFormatError(problems)
    return requirements
