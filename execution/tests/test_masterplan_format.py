from __future__ import annotations

from decimal import Decimal

import pytest

from execution.document.format import MasterPlanFormatError, parse_masterplan
from execution.document.render import render_masterplan, strip_plan_section

EXAMPLES = ["slugkit", "typed-event-bus", "inventory-service"]

MINIMAL = """\
---
name: tiny
---
Some prose.

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
                spec: Define a().
              - name: b
                file: pkg/b.py
                depends_on: [a]
                spec: Define b() using a().
```
"""


def replace_in(document: str, old: str, new: str) -> str:
    assert old in document, f"{old!r} is not in the document"
    return document.replace(old, new, 1)


def problems_of(text: str) -> list[str]:
    with pytest.raises(MasterPlanFormatError) as raised:
        parse_masterplan(text)
    return [str(problem) for problem in raised.value.problems]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_parses_with_5_to_30_atoms_and_dependencies(example_text, name):
    document = parse_masterplan(example_text(name))
    assert 5 <= len(document.atoms) <= 30
    assert any(atom.depends_on for atom in document.atoms)


def test_examples_cover_python_typescript_and_a_mixed_plan(example_text):
    languages = {
        name: {atom.language for atom in parse_masterplan(example_text(name)).atoms}
        for name in EXAMPLES
    }
    assert languages["slugkit"] == {"python"}
    assert languages["typed-event-bus"] == {"typescript"}
    assert len(languages["inventory-service"]) == 3


@pytest.mark.parametrize("name", EXAMPLES)
def test_render_then_parse_gives_the_same_plan(example_text, name):
    original = parse_masterplan(example_text(name))
    rendered = render_masterplan(original, strip_plan_section(original.body))
    again = parse_masterplan(rendered)

    def shape(document):
        return [
            (a.name, a.file_path, a.language, a.complexity, a.spec, a.depends_on)
            for a in document.atoms
        ]

    assert shape(again) == shape(original)
    assert (again.name, again.description, again.options) == (
        original.name,
        original.description,
        original.options,
    )
    assert (again.hard_cap_usd, again.soft_cap_usd) == (
        original.hard_cap_usd,
        original.soft_cap_usd,
    )
    assert strip_plan_section(again.body).strip() == strip_plan_section(original.body).strip()


def test_minimal_document_gets_default_caps_language_and_complexity(settings):
    document = parse_masterplan(MINIMAL)
    assert document.hard_cap_usd == Decimal("200")
    assert document.soft_cap_usd == Decimal("140.000000")
    assert [atom.language for atom in document.atoms] == ["python", "python"]
    assert [atom.complexity for atom in document.atoms] == ["medium", "medium"]
    assert document.atoms[1].line == 19


def test_atom_lines_point_at_the_atom_in_the_document():
    document = parse_masterplan(MINIMAL)
    lines = MINIMAL.split("\n")
    for atom in document.atoms:
        assert lines[atom.line - 1].strip() == f"- name: {atom.name}"


def test_unknown_dependency_names_the_atom_and_line():
    problems = problems_of(replace_in(MINIMAL, "depends_on: [a]", "depends_on: [a, ghost]"))
    assert problems == ["line 21: atom 'b' depends on unknown atom 'ghost'"]


def test_duplicate_atom_name_names_both_lines():
    text = replace_in(MINIMAL, "- name: b\n", "- name: a\n")
    assert "line 19: duplicate atom name 'a' (first defined on line 16)" in problems_of(text)


def test_two_atoms_targeting_one_file_are_refused():
    text = replace_in(MINIMAL, "file: pkg/b.py", "file: pkg/a.py")
    assert any("already the file of atom 'a'" in problem for problem in problems_of(text))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../escape.py", "must not leave the workspace"),
        ("pkg/../../escape.py", "must not leave the workspace"),
        ("/etc/passwd.py", "must be relative to the workspace"),
        ("C:/x.py", "must be relative to the workspace"),
        ("pkg\\\\a.py", "use forward slashes"),
        ("pkg/", "names a directory"),
    ],
)
def test_file_paths_escaping_the_workspace_are_refused(path, message):
    problems = problems_of(replace_in(MINIMAL, "file: pkg/a.py", f'file: "{path}"'))
    assert len(problems) == 1
    assert problems[0].startswith("line 17: atom 'a': ")
    assert message in problems[0]


def test_unsupported_language_is_named():
    text = replace_in(
        MINIMAL, "file: pkg/a.py\n", "file: pkg/a.py\n                language: rust\n"
    )
    assert problems_of(text) == [
        "line 18: atom 'a': unsupported language 'rust' (supported: python, typescript, javascript)"
    ]


def test_unsupported_file_extension_is_named():
    problems = problems_of(replace_in(MINIMAL, "file: pkg/a.py", "file: pkg/a.rs"))
    assert problems[0].startswith("line 17: atom 'a': unsupported file type '.rs'")


def test_language_contradicting_the_extension_is_refused():
    text = replace_in(
        MINIMAL, "file: pkg/a.py\n", "file: pkg/a.py\n                language: typescript\n"
    )
    assert "does not match the file's '.py' extension" in problems_of(text)[0]


def test_invalid_yaml_in_the_plan_names_its_line():
    problems = problems_of(replace_in(MINIMAL, "spec: Define a().", "spec: [unclosed"))
    assert len(problems) == 1
    assert problems[0].startswith("line 19: invalid YAML in the plan: expected ',' or ']'")
    assert problems[0].endswith("(while parsing a flow sequence on line 18)")


def test_invalid_yaml_in_the_front_matter_names_its_line():
    problems = problems_of(replace_in(MINIMAL, "name: tiny", "name: [tiny"))
    assert problems[0].startswith("line ")
    assert "invalid YAML in the front matter" in problems[0]


def test_duplicate_yaml_key_is_an_error_not_a_silent_overwrite():
    text = replace_in(
        MINIMAL, "spec: Define a().", "spec: Define a().\n                spec: again"
    )
    assert "appears twice" in problems_of(text)[0]


def test_cycle_is_named_atom_by_atom():
    text = replace_in(MINIMAL, "spec: Define a().", "depends_on: [b]\n                spec: x")
    assert problems_of(text) == ["line 16: dependency cycle: a → b → a"]


def test_self_dependency_is_refused():
    text = replace_in(MINIMAL, "depends_on: [a]", "depends_on: [b]")
    assert problems_of(text) == ["line 21: atom 'b' depends on itself"]


def test_oversize_document_is_refused_before_parsing():
    problems = problems_of(MINIMAL + "x" * (1024 * 1024))
    assert problems[0].startswith("the document is ")
    assert "limit is 1,048,576 bytes (1 MiB)" in problems[0]


def test_document_without_front_matter_is_refused():
    assert problems_of("# just markdown\n") == [
        "line 1: the document must start with YAML front matter between '---' lines"
    ]


def test_document_without_plan_says_what_is_missing():
    problems = problems_of("---\nname: x\n---\n# no plan here\n")
    assert "has no '## Plan' section" in problems[0]


def test_unknown_keys_are_named_with_the_allowed_ones():
    text = replace_in(MINIMAL, "name: tiny", "name: tiny\nbudgt: 5")
    assert problems_of(text) == [
        "line 3: unknown key 'budgt' in the front matter "
        "(allowed: budget, description, language, model, name, options, requirements)"
    ]


def test_soft_cap_above_hard_cap_is_refused():
    text = replace_in(
        MINIMAL, "name: tiny", "name: tiny\nbudget:\n  hard_cap_usd: 5\n  soft_cap_usd: 9"
    )
    assert problems_of(text) == ["line 5: budget soft_cap_usd (9) must not exceed hard_cap_usd (5)"]


@pytest.mark.parametrize("value", ["-1", "abc", "true", "0.0000001"])
def test_bad_budget_amounts_are_refused(value):
    text = replace_in(MINIMAL, "name: tiny", f"name: tiny\nbudget:\n  hard_cap_usd: {value}")
    problems = problems_of(text)
    assert len(problems) == 1
    assert problems[0].startswith("line 4: budget hard_cap_usd")


def test_several_problems_are_reported_together():
    text = replace_in(MINIMAL, "depends_on: [a]", "depends_on: [ghost]")
    text = replace_in(text, "file: pkg/a.py", "file: ../a.py")
    assert len(problems_of(text)) == 2


@pytest.mark.parametrize("value", ["1.5", "-0.1", "yes", "high"])
def test_min_precision_must_be_a_fraction_between_0_and_1(value):
    text = replace_in(MINIMAL, "name: tiny", f"name: tiny\noptions:\n  min_precision: {value}")
    assert problems_of(text) == [
        "line 4: option min_precision must be a number between 0 and 1 (0.95 means 95 %)"
    ]
    good = replace_in(MINIMAL, "name: tiny", "name: tiny\noptions:\n  min_precision: 0.95")
    assert parse_masterplan(good).options == {"min_precision": 0.95}
