"""The `## Plan` block: phases → milestones → tasks → atoms, each checked with its line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from execution.dependencies.graph import find_cycle
from execution.document.reading import (
    Problems,
    YamlMapping,
    load_yaml,
    text_field,
    unknown_keys,
)
from execution.document.spec import (
    ATOM_KEYS,
    COMPLEXITIES,
    FENCE,
    LANGUAGE_BY_EXTENSION,
    LANGUAGES,
    PLAN_HEADING,
    AtomSpec,
    FormatProblem,
    MasterPlanDocument,
    MasterPlanFormatError,
    MilestoneSpec,
    PhaseSpec,
    TaskSpec,
)
from execution.runtime.workspace import WorkspacePathError, check_relative_path


def plan_block(lines: list[str], body_start: int) -> tuple[str, int] | None:
    """The YAML inside the first fenced block of the `## Plan` section, and its first line."""
    in_plan = False
    for index in range(body_start, len(lines)):
        line = lines[index].rstrip()
        if line.startswith("## "):
            in_plan = line == PLAN_HEADING
            continue
        fence = FENCE.match(line) if in_plan else None
        if fence and fence.group(2) in ("", "yaml", "yml"):
            for end in range(index + 1, len(lines)):
                if lines[end].rstrip() == fence.group(1):
                    return "\n".join(lines[index + 1 : end]), index + 2
            raise MasterPlanFormatError(
                [FormatProblem(index + 1, "the plan's code block is not closed")]
            )
    return None


def parse_plan_block(
    lines: list[str], body_start: int, default_language: str | None, problems: Problems
) -> list[PhaseSpec]:
    block = plan_block(lines, body_start)
    if block is None:
        problems.add(
            None,
            f"the document has no '{PLAN_HEADING}' section with a ```yaml block holding "
            "the phases → milestones → tasks → atoms tree",
        )
        return []
    plan = load_yaml(block[0], block[1], "plan")
    if not isinstance(plan, YamlMapping) or set(plan) != {"phases"}:
        problems.add(block[1], "the plan block must hold exactly one key, 'phases'")
        return []
    return [
        _parse_phase(phase, position, default_language, problems)
        for position, phase in _items(plan, "phases", "the plan", problems)
    ]


def _items(
    mapping: YamlMapping, key: str, where: str, problems: Problems
) -> list[tuple[int, YamlMapping]]:
    values = mapping.get(key)
    line = mapping.key_lines.get(key, mapping.line)
    if not isinstance(values, list) or not values:
        problems.add(line, f"{where} needs a non-empty list of {key!r}")
        return []
    items = []
    for position, value in enumerate(values):
        if isinstance(value, YamlMapping):
            items.append((position, value))
        else:
            problems.add(line, f"each entry of {key!r} in {where} must be a mapping")
    return items


def _parse_branch(
    data: YamlMapping,
    position: int,
    kind: str,
    children_key: str,
    parse_child: Callable[[YamlMapping, int], Any],
    problems: Problems,
) -> tuple[str, str, list[Any]]:
    """Name, description and parsed children of a phase, milestone or task."""
    where = f"{kind} {position + 1}"
    unknown_keys(data, {"name", "description", children_key}, where, problems)
    name = text_field(data, "name", where, problems, required=True)
    where = f"{kind} {name!r}"
    description = text_field(data, "description", where, problems, required=False)
    children = [
        parse_child(child, index) for index, child in _items(data, children_key, where, problems)
    ]
    return name, description, children


def _parse_phase(
    data: YamlMapping, position: int, language: str | None, problems: Problems
) -> PhaseSpec:
    name, description, milestones = _parse_branch(
        data,
        position,
        "phase",
        "milestones",
        lambda child, index: _parse_milestone(child, index, language, problems),
        problems,
    )
    return PhaseSpec(name, description, milestones, data.line)


def _parse_milestone(
    data: YamlMapping, position: int, language: str | None, problems: Problems
) -> MilestoneSpec:
    name, description, tasks = _parse_branch(
        data,
        position,
        "milestone",
        "tasks",
        lambda child, index: _parse_task(child, index, language, problems),
        problems,
    )
    return MilestoneSpec(name, description, tasks, data.line)


def _parse_task(
    data: YamlMapping, position: int, language: str | None, problems: Problems
) -> TaskSpec:
    name, description, atoms = _parse_branch(
        data,
        position,
        "task",
        "atoms",
        lambda child, index: _parse_atom(child, index, language, problems),
        problems,
    )
    return TaskSpec(name, description, atoms, data.line)


def _parse_atom(
    data: YamlMapping, position: int, language: str | None, problems: Problems
) -> AtomSpec:
    where = f"atom {position + 1}"
    unknown_keys(data, ATOM_KEYS, where, problems)
    name = text_field(data, "name", where, problems, required=True)
    where = f"atom {name!r}"
    file_path = _atom_file(data, where, problems)
    return AtomSpec(
        name=name,
        file_path=file_path,
        language=_atom_language(data, file_path, where, language, problems),
        complexity=_atom_complexity(data, where, problems),
        spec=text_field(data, "spec", where, problems, required=True),
        depends_on=_atom_depends_on(data, where, problems),
        line=data.line,
        depends_on_line=data.key_lines.get("depends_on", data.line),
    )


def _atom_file(data: YamlMapping, where: str, problems: Problems) -> str:
    path = text_field(data, "file", where, problems, required=True)
    if not path:
        return ""
    try:
        return check_relative_path(path)
    except WorkspacePathError as error:
        problems.add(data.key_lines["file"], f"{where}: {error} ({path!r})")
        return ""


def _atom_language(
    data: YamlMapping, file_path: str, where: str, default: str | None, problems: Problems
) -> str:
    declared: str | None = data.get("language", default)
    line = data.key_lines.get("language", data.line)
    if declared is not None and declared not in LANGUAGES:
        problems.add(
            line,
            f"{where}: unsupported language {declared!r} (supported: {', '.join(LANGUAGES)})",
        )
        return ""
    suffix = PurePosixPath(file_path).suffix
    inferred = LANGUAGE_BY_EXTENSION.get(suffix)
    if inferred is None:
        if file_path:
            problems.add(
                data.key_lines["file"],
                f"{where}: unsupported file type {suffix or '(no extension)'!r} "
                f"(supported: {', '.join(sorted(LANGUAGE_BY_EXTENSION))})",
            )
        return declared or ""
    if "language" in data and declared != inferred:
        problems.add(
            line, f"{where}: language {declared!r} does not match the file's {suffix!r} extension"
        )
    # The extension decides when the atom does not name a language itself, so a
    # plan-wide default does not turn a .ts file into Python (`language: null` was reported).
    return (declared or "") if "language" in data else inferred


def _atom_complexity(data: YamlMapping, where: str, problems: Problems) -> str:
    complexity = data.get("complexity", "medium")
    if complexity not in COMPLEXITIES:
        problems.add(
            data.key_lines["complexity"],
            f"{where}: complexity must be one of {', '.join(COMPLEXITIES)}, not {complexity!r}",
        )
        return "medium"
    return str(complexity)


def _atom_depends_on(data: YamlMapping, where: str, problems: Problems) -> list[str]:
    value = data.get("depends_on") or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(
            data.key_lines.get("depends_on"), f"{where}: depends_on must be a list of atom names"
        )
        return []
    return list(dict.fromkeys(item.strip() for item in value))


def check_atoms(document: MasterPlanDocument, problems: Problems) -> None:
    """Checks across atoms: unique names and files, known dependencies, no cycles."""
    atoms = document.atoms
    by_name: dict[str, AtomSpec] = {}
    by_file: dict[str, AtomSpec] = {}
    for atom in atoms:
        if atom.name in by_name:
            problems.add(
                atom.line,
                f"duplicate atom name {atom.name!r} (first defined on line "
                f"{by_name[atom.name].line})",
            )
        else:
            by_name[atom.name] = atom
        if not atom.file_path:
            continue  # already reported
        if atom.file_path in by_file:
            first = by_file[atom.file_path]
            problems.add(
                atom.line,
                f"atom {atom.name!r} targets {atom.file_path!r}, already the file of atom "
                f"{first.name!r} (line {first.line}); each atom owns one file",
            )
        else:
            by_file[atom.file_path] = atom
    for atom in atoms:
        for dependency in atom.depends_on:
            if dependency == atom.name:
                problems.add(atom.depends_on_line, f"atom {atom.name!r} depends on itself")
            elif dependency not in by_name:
                problems.add(
                    atom.depends_on_line,
                    f"atom {atom.name!r} depends on unknown atom {dependency!r}",
                )
    # Self-dependencies are reported above; leave them out so they are not named twice.
    cycle = find_cycle(
        {atom.name: [name for name in atom.depends_on if name != atom.name] for atom in atoms}
    )
    if cycle:
        problems.add(by_name[cycle[0]].line, "dependency cycle: " + " → ".join(cycle))
