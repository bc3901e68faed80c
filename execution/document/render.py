"""Writing a masterplan document back: the inverse of `masterplan_format.parse_masterplan`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml

from execution.document.format import (
    FENCE,
    PLAN_HEADING,
    AtomSpec,
    MasterPlanDocument,
    PhaseSpec,
    RequirementSpec,
)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line text as `|` blocks, which is how people write specs by hand."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value.normalize(), "f")
    tag = "int" if "." not in text else "float"
    return dumper.represent_scalar(f"tag:yaml.org,2002:{tag}", text)


_BlockDumper.add_representer(str, _represent_str)
_BlockDumper.add_representer(Decimal, _represent_decimal)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


def render_masterplan(document: MasterPlanDocument, prose: str) -> str:
    """The document text: front matter, then `prose` (markdown) with the plan block after it.

    `prose` is the markdown body without its `## Plan` section (see `strip_plan_section`).
    """
    meta: dict[str, Any] = {"name": document.name}
    if document.description:
        meta["description"] = document.description
    if document.model:
        meta["model"] = document.model
    meta["budget"] = {
        "hard_cap_usd": document.hard_cap_usd,
        "soft_cap_usd": document.soft_cap_usd,
    }
    if document.options:
        meta["options"] = dict(document.options)
    if document.front_matter_requirements is not None:
        meta["requirements"] = _requirements_data(document.front_matter_requirements)
    plan = {"phases": [_phase_data(phase) for phase in document.phases]}
    return (
        f"---\n{_dump(meta)}---\n{prose.rstrip()}\n\n{PLAN_HEADING}\n\n```yaml\n{_dump(plan)}```\n"
    )


def _requirements_data(requirements: list[RequirementSpec]) -> list[str] | dict[str, list[str]]:
    """The front matter's `requirements` in the form it was written: lists by class when a
    class was given, else one plain list."""
    if any(requirement.listed_as for requirement in requirements):
        by_class: dict[str, list[str]] = {}
        for requirement in requirements:
            by_class.setdefault(requirement.listed_as or "must", []).append(requirement.text)
        return by_class
    return [requirement.text for requirement in requirements]


def strip_plan_section(body: str) -> str:
    """The markdown body without its `## Plan` section."""
    kept: list[str] = []
    in_plan = False
    fence: str | None = None  # headings inside a code block are not headings
    for line in body.split("\n"):
        stripped = line.rstrip()
        if fence is None:
            match = FENCE.match(stripped)
            if stripped.startswith("## "):
                in_plan = stripped == PLAN_HEADING
            elif match:
                fence = match.group(1)
        elif stripped == fence:
            fence = None
        if not in_plan:
            kept.append(line)
    return "\n".join(kept)


def _phase_data(phase: PhaseSpec) -> dict[str, Any]:
    return _named(phase.name, phase.description) | {
        "milestones": [
            _named(milestone.name, milestone.description)
            | {
                "tasks": [
                    _named(task.name, task.description)
                    | {"atoms": [_atom_data(atom) for atom in task.atoms]}
                    for task in milestone.tasks
                ]
            }
            for milestone in phase.milestones
        ]
    }


def _named(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "description": description} if description else {"name": name}


def _atom_data(atom: AtomSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": atom.name,
        "file": atom.file_path,
        "language": atom.language,
        "complexity": atom.complexity,
    }
    if atom.depends_on:
        data["depends_on"] = list(atom.depends_on)
    data["spec"] = atom.spec if atom.spec.endswith("\n") else atom.spec + "\n"
    return data
