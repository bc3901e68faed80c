from __future__ import annotations

import pytest

from acceptance.requirements import ParsedRequirement, parse_structured_requirements
from execution.masterplan_format import MasterPlanFormatError

BODY = """\
# Title

Intro prose mentioning MUST in passing.

## Requirements

### MUST
- First must
  - nested detail joined
  and an indented continuation
- Second must

### SHOULD
* Should with a star bullet
1. Numbered should

## Plan

```yaml
## Requirements
- not a requirement: inside a code block
```
"""


def test_structured_requirements_keep_priority_and_source_line():
    assert parse_structured_requirements(BODY, first_line=4) == [
        ParsedRequirement(
            "First must nested detail joined and an indented continuation", "must", 11
        ),
        ParsedRequirement("Second must", "must", 14),
        ParsedRequirement("Should with a star bullet", "should", 17),
        ParsedRequirement("Numbered should", "should", 18),
    ]


def test_a_document_without_the_section_has_no_structured_requirements():
    assert parse_structured_requirements("# Title\n\n- a bullet elsewhere\n") == []


def test_headings_are_matched_case_insensitively():
    body = "## Requirements\n### must\n- lower-case heading\n"
    assert parse_structured_requirements(body) == [
        ParsedRequirement("lower-case heading", "must", 3)
    ]


def test_an_unknown_list_heading_is_refused_with_its_line():
    body = "## Requirements\n### COULD\n- maybe\n"
    with pytest.raises(MasterPlanFormatError, match="line 2: unknown requirement list"):
        parse_structured_requirements(body)


def test_a_bullet_outside_a_priority_list_is_refused():
    body = "## Requirements\n- loose\n"
    with pytest.raises(MasterPlanFormatError, match="line 2: this requirement is not under"):
        parse_structured_requirements(body)


def test_an_empty_bullet_is_refused():
    body = "## Requirements\n### MUST\n-  \n"
    with pytest.raises(MasterPlanFormatError):
        parse_structured_requirements(body)


def test_an_indented_line_after_a_heading_does_not_join_the_previous_list():
    body = "## Requirements\n### MUST\n- one\n### SHOULD\n  stray indented text\n- two\n"
    assert [r.text for r in parse_structured_requirements(body)] == ["one", "two"]
