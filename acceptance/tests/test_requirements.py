from __future__ import annotations

import pytest

from acceptance.models import Requirement
from acceptance.requirements import (
    parse_prose_requirements,
    parse_requirements,
    parse_structured_requirements,
)
from execution.actions import import_masterplan
from execution.document.format import MasterPlanFormatError, RequirementSpec, parse_masterplan

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

PLAN = """\
## Plan

```yaml
phases:
  - name: P
    milestones:
      - name: M
        tasks:
          - name: T
            atoms:
              - name: a
                file: pkg/a.py
                spec: Define a(); it MUST return 1.
```
"""


def document(front_matter: str = "", body: str = "") -> str:
    """A valid masterplan: line 1 is '---', the front matter's own lines start on line 3."""
    return f"---\nname: reqs\n{front_matter}---\n{body}\n{PLAN}"


def requirements_of(text: str) -> list[RequirementSpec]:
    return parse_requirements(parse_masterplan(text))


def problems_of(text: str) -> list[str]:
    with pytest.raises(MasterPlanFormatError) as raised:
        requirements_of(text)
    return [str(problem) for problem in raised.value.problems]


# --- the ## Requirements section ----------------------------------------------------------


def test_structured_requirements_keep_their_list_and_source_line():
    assert parse_structured_requirements(BODY, first_line=4) == [
        RequirementSpec("First must nested detail joined and an indented continuation", "must", 11),
        RequirementSpec("Second must", "must", 14),
        RequirementSpec("Should with a star bullet", "should", 17),
        RequirementSpec("Numbered should", "should", 18),
    ]


def test_a_document_without_the_section_has_no_structured_requirements():
    assert parse_structured_requirements("# Title\n\n- a bullet elsewhere\n") == []


def test_headings_are_matched_case_insensitively():
    body = "## Requirements\n### must\n- lower-case heading\n"
    assert parse_structured_requirements(body) == [RequirementSpec("lower-case heading", "must", 3)]


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
    with pytest.raises(MasterPlanFormatError, match="line 3: this requirement is empty"):
        parse_structured_requirements(body)


def test_an_indented_line_after_a_heading_does_not_join_the_previous_list():
    body = "## Requirements\n### MUST\n- one\n### SHOULD\n  stray indented text\n- two\n"
    assert [r.text for r in parse_structured_requirements(body)] == ["one", "two"]


@pytest.mark.parametrize(("outer", "inner"), [("~~~", "```"), ("````", "```")])
def test_a_code_block_ends_only_at_its_own_fence(outer, inner):
    body = f"## Requirements\n### MUST\n- one\n{outer}\n{inner}\n- hidden\n{outer}\n- two\n"
    assert [r.text for r in parse_structured_requirements(body)] == ["one", "two"]


def test_the_section_wins_over_the_prose():
    text = document(body="The API MUST answer in JSON.\n\n## Requirements\n### SHOULD\n- cache\n")
    assert requirements_of(text) == [RequirementSpec("cache", "should", 8)]


# --- the front matter ---------------------------------------------------------------------


def test_a_front_matter_list_leaves_the_class_to_the_keywords():
    text = document(
        "requirements:\n"
        "  - The API MUST answer in JSON\n"
        "  - >\n"
        "    A folded item\n"
        "    over two lines\n"
    )
    assert requirements_of(text) == [
        RequirementSpec("The API MUST answer in JSON", None, 4),
        RequirementSpec("A folded item over two lines", None, 5),
    ]


def test_front_matter_must_and_should_lists_act_as_headings_in_document_order():
    text = document(
        "requirements:\n  should: [Cache the price list]\n  must:\n    - Prices are in cents\n"
    )
    assert requirements_of(text) == [
        RequirementSpec("Cache the price list", "should", 4),
        RequirementSpec("Prices are in cents", "must", 6),
    ]


def test_an_empty_front_matter_list_means_no_requirements_not_the_prose():
    text = document("requirements: []\n", body="The API MUST answer in JSON.\n")
    assert requirements_of(text) == []


@pytest.mark.parametrize(
    ("front_matter", "problem"),
    [
        (
            "requirements: The API MUST answer\n",
            "line 3: 'requirements' must be a list of requirements or a mapping of 'must' and "
            "'should' lists",
        ),
        (
            "requirements:\n  must: [a]\n  could: [b]\n",
            "line 5: unknown key 'could' in 'requirements' (allowed: must, should)",
        ),
        ("requirements:\n  must: one\n", "line 4: 'requirements.must' must be a list"),
        (
            "requirements:\n  - fine\n  - Slugs MUST match: [a-z]\n",
            "line 5: a requirement in 'requirements' is not text (quote it if it has ': ')",
        ),
        ("requirements:\n  should:\n    - ok\n    - ''\n", "line 6: a requirement in"),
        ("requirements:\n  - 42\n", "line 4: a requirement in 'requirements' is not text"),
    ],
)
def test_a_malformed_front_matter_list_is_refused_with_its_line(front_matter, problem):
    with pytest.raises(MasterPlanFormatError) as raised:
        parse_masterplan(document(front_matter))
    assert [str(p) for p in raised.value.problems][0].startswith(problem)


def test_requirements_in_both_front_matter_and_section_are_refused_at_the_section():
    text = document("requirements: [a MUST]\n", body="\n## Requirements\n### MUST\n- b\n")
    assert problems_of(text) == [
        "line 6: the front matter lists the requirements already: keep them either there or "
        "in this section"
    ]


# --- the prose fallback -------------------------------------------------------------------

PROSE = """\
# Ledger

The ledger MUST balance after every posting. It keeps a history, e.g. the
reversals. Reports should be
exported as CSV. Should we support XML too?

- Amounts are stored as integer cents.
- Deleting a posting SHALL NOT be possible.

The required fields are listed below; this may change.

```python
# The ledger MUST be ignored here
```

> Auditors MAY read every posting.

### Notes
Every report must show its generation time.
"""


def test_the_prose_fallback_keeps_the_sentences_with_keywords_and_their_lines():
    assert parse_prose_requirements(PROSE, first_line=10) == [
        RequirementSpec("The ledger MUST balance after every posting.", None, 12),
        RequirementSpec("Reports should be exported as CSV.", None, 13),
        RequirementSpec("Deleting a posting SHALL NOT be possible.", None, 17),
        RequirementSpec("Auditors MAY read every posting.", None, 25),
        RequirementSpec("Every report must show its generation time.", None, 28),
    ]


def test_the_prose_fallback_skips_the_plan_and_works_on_a_whole_document():
    text = document(body="Intro.\n\nThe export must keep the row order.\n")
    assert requirements_of(text) == [
        RequirementSpec("The export must keep the row order.", None, 6)
    ]


def test_prose_without_requirement_keywords_gives_no_requirements():
    assert parse_prose_requirements("A tool for slugs. It may grow, it is critical.\n") == []


# --- the import -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_import_stores_class_source_and_flag_of_each_requirement():
    text = document(
        "requirements:\n"
        "  - Uploads must be rejected above 10 MB\n"
        "  - Keyboard shortcuts are desirable\n"
        "  - Passwords are hashed with Argon2id\n"
        "  - Users MAY NOT share licence keys\n"
    )
    masterplan = import_masterplan(text)
    stored = list(
        masterplan.requirements.values_list("priority", "classified_by", "flag", "source_line")
    )
    assert stored == [
        ("must", "keyword", "", 4),
        ("should", "keyword", "", 5),
        (
            "must",
            "default",
            "no requirement keyword and no MUST/SHOULD heading: must by default (the safer choice)",
            6,
        ),
        ("must", "default", "'MAY NOT' can grant or forbid: must by default (the safer choice)", 7),
    ]


@pytest.mark.django_db
def test_a_keyword_contradicting_its_heading_is_flagged_and_the_heading_decides():
    text = document(body="## Requirements\n### MUST\n- Responses SHOULD be gzipped\n")
    requirement = import_masterplan(text).requirements.get()
    assert (requirement.priority, requirement.classified_by, requirement.flag) == (
        "must",
        "heading",
        "the keyword 'SHOULD' contradicts its MUST heading; the heading decides",
    )


@pytest.mark.django_db
def test_a_bad_requirement_list_rejects_the_import_whole():
    with pytest.raises(MasterPlanFormatError, match="line 4"):
        import_masterplan(document("requirements:\n  must: one\n"))
    assert not Requirement.objects.exists()


@pytest.mark.django_db
def test_the_llm_classifies_the_unclear_requirements_after_the_import_commits(
    stub_server, django_capture_on_commit_callbacks, run_jobs
):
    # The stub scripts answers per atom name; a request that is no atom's (a
    # classification) goes under the name "".
    stub_server.configure(atom_texts={"": ["1: SHOULD\n2: MUST"]})
    text = document(
        "requirements:\n"
        "  - A dark mode toggle in the settings page\n"
        "  - The API MUST answer in JSON\n"
        "  - Deleting an account removes its personal data\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        masterplan = import_masterplan(text)
    assert stub_server.stats.requests == 0  # a job asks, not the import
    run_jobs()
    stored = list(masterplan.requirements.values_list("priority", "classified_by", "flag"))
    assert stored == [
        (
            "should",
            "llm",
            "no requirement keyword and no MUST/SHOULD heading: the LLM chose should",
        ),
        ("must", "keyword", ""),
        ("must", "llm", "no requirement keyword and no MUST/SHOULD heading: the LLM chose must"),
    ]
    assert stub_server.stats.requests == 1
    assert list(masterplan.cost_entries.values_list("purpose", flat=True)) == ["classification"]


@pytest.mark.django_db
def test_a_failing_llm_leaves_the_unclear_requirements_at_must_and_the_import_stands(
    stub_server, django_capture_on_commit_callbacks, run_jobs
):
    stub_server.configure(failing_atoms={"": 500})
    text = document("requirements:\n  - Passwords are hashed with Argon2id\n")
    with django_capture_on_commit_callbacks(execute=True):
        masterplan = import_masterplan(text)
    run_jobs()
    requirement = masterplan.requirements.get()
    assert (requirement.priority, requirement.classified_by) == ("must", "default")
    assert requirement.flag.startswith(
        "no requirement keyword and no MUST/SHOULD heading: the LLM did not answer ("
    )
    assert requirement.flag.endswith("), so must by default")


@pytest.mark.django_db
def test_no_llm_call_when_every_requirement_is_clear(
    stub_server, django_capture_on_commit_callbacks, run_jobs
):
    text = document("requirements:\n  - The API MUST answer in JSON\n")
    with django_capture_on_commit_callbacks(execute=True):
        import_masterplan(text)
    run_jobs()
    assert stub_server.stats.requests == 0
