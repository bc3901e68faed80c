"""The masterplan document: YAML front matter + markdown with a `## Plan` YAML block.

`parse_masterplan(text)` turns a document into plain dataclasses or raises
MasterPlanFormatError listing every problem found with its line; `masterplan_render`
writes a document back, so an imported plan can be exported and re-imported unchanged.
The format is described for people in docs/masterplan-format.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath
from typing import Any

import yaml
from django.conf import settings

from execution.dependencies.graph import find_cycle
from execution.workspace import WorkspacePathError, check_relative_path

LANGUAGE_BY_EXTENSION = {
    ".py": "python",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
}
LANGUAGES = ("python", "typescript", "javascript")
COMPLEXITIES = ("low", "medium", "high")
PLAN_HEADING = "## Plan"

_FRONT_MATTER_KEYS = {
    "name",
    "description",
    "model",
    "language",
    "budget",
    "options",
    "requirements",
}
_REQUIREMENT_LISTS = ("must", "should")
_BUDGET_KEYS = {"hard_cap_usd", "soft_cap_usd"}
_OPTION_KEYS = {"enforce_gate_per_wave": bool, "max_attempts": int}
_ATOM_KEYS = {"name", "file", "language", "complexity", "depends_on", "spec"}
FENCE = re.compile(r"^(```|~~~)\s*(\w*)\s*$")


@dataclass(frozen=True)
class FormatProblem:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class MasterPlanFormatError(ValueError):
    def __init__(self, problems: list[FormatProblem]) -> None:
        self.problems = sorted(problems, key=lambda problem: problem.line or 0)
        super().__init__("; ".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class RequirementSpec:
    text: str
    listed_as: str | None
    """"must" or "should" when a heading or a front matter list says so; None when only the
    text's own words can tell (a plain front matter list, sentences of the prose)."""
    line: int


@dataclass
class AtomSpec:
    name: str
    file_path: str
    language: str
    complexity: str
    spec: str
    depends_on: list[str]
    line: int
    depends_on_line: int = 0


@dataclass
class TaskSpec:
    name: str
    description: str
    atoms: list[AtomSpec]
    line: int


@dataclass
class MilestoneSpec:
    name: str
    description: str
    tasks: list[TaskSpec]
    line: int


@dataclass
class PhaseSpec:
    name: str
    description: str
    milestones: list[MilestoneSpec]
    line: int


@dataclass
class MasterPlanDocument:
    name: str
    description: str
    model: str
    language: str | None
    hard_cap_usd: Decimal
    soft_cap_usd: Decimal
    options: dict[str, Any]
    phases: list[PhaseSpec]
    body: str = field(repr=False)
    """The markdown after the front matter (prose, requirements and the plan block)."""
    body_first_line: int = 1
    front_matter_requirements: list[RequirementSpec] | None = None
    """The front matter's `requirements`; None when it has no such key."""

    @property
    def atoms(self) -> list[AtomSpec]:
        return [
            atom
            for phase in self.phases
            for milestone in phase.milestones
            for task in milestone.tasks
            for atom in task.atoms
        ]


# --- YAML with line numbers ---------------------------------------------------------------


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys stood."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}


class _LineLoader(yaml.SafeLoader):
    line_offset = 0


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    mapping = _Mapping(node.start_mark.line + 1 + loader.line_offset)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1 + loader.line_offset
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is not a name", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


class _Sequence(list[Any]):
    """A YAML list that remembers the line of each of its items."""

    def __init__(self) -> None:
        super().__init__()
        self.item_lines: list[int] = []


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _Sequence:
    sequence = _Sequence()
    for item_node in node.value:
        sequence.append(loader.construct_object(item_node, deep=True))
        sequence.item_lines.append(item_node.start_mark.line + 1 + loader.line_offset)
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _load_yaml(text: str, first_line: int, what: str) -> Any:
    """Parse YAML whose first line is line `first_line` of the document."""

    class Loader(_LineLoader):
        line_offset = first_line - 1

    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 — a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + first_line if mark else first_line
        message = f"invalid YAML in the {what}: {error.problem or error}"
        if error.context and error.context_mark and error.context_mark is not mark:
            message += f" ({error.context} on line {error.context_mark.line + first_line})"
        raise MasterPlanFormatError([FormatProblem(line, message)]) from None
    except yaml.YAMLError as error:
        raise MasterPlanFormatError(
            [FormatProblem(first_line, f"invalid YAML in the {what}: {error}")]
        ) from None


# --- Parsing ------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[FormatProblem] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append(FormatProblem(line, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise MasterPlanFormatError(self.items)


def parse_masterplan(text: str) -> MasterPlanDocument:
    size = len(text.encode("utf-8"))
    if size > settings.MGE_MASTERPLAN_MAX_BYTES:
        raise MasterPlanFormatError(
            [
                FormatProblem(
                    None,
                    f"the document is {size:,} bytes; the limit is "
                    f"{settings.MGE_MASTERPLAN_MAX_BYTES:,} bytes (1 MiB)",
                )
            ]
        )
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    front_matter, body_start = _front_matter_lines(lines)
    meta = _load_yaml("\n".join(front_matter), 2, "front matter")
    if not isinstance(meta, _Mapping):
        raise MasterPlanFormatError([FormatProblem(2, "the front matter must be a YAML mapping")])
    problems = _Problems()
    header = _parse_front_matter(meta, problems)
    body = "\n".join(lines[body_start:])
    phases = _parse_plan_block(lines, body_start, header["language"], problems)
    document = MasterPlanDocument(
        body=body, body_first_line=body_start + 1, phases=phases, **header
    )
    _check_atoms(document, problems)
    problems.raise_if_any()
    return document


def _front_matter_lines(lines: list[str]) -> tuple[list[str], int]:
    if not lines or lines[0].strip() != "---":
        raise MasterPlanFormatError(
            [FormatProblem(1, "the document must start with YAML front matter between '---' lines")]
        )
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return lines[1:index], index + 1
    raise MasterPlanFormatError(
        [FormatProblem(1, "the front matter is not closed: add a '---' line after it")]
    )


def _unknown_keys(mapping: _Mapping, allowed: set[str], where: str, problems: _Problems) -> None:
    for key in mapping:
        if key not in allowed:
            problems.add(
                mapping.key_lines[key],
                f"unknown key {key!r} in {where} (allowed: {', '.join(sorted(allowed))})",
            )


def _text(mapping: _Mapping, key: str, where: str, problems: _Problems, *, required: bool) -> str:
    value = mapping.get(key)
    line = mapping.key_lines.get(key, mapping.line)
    if value is None:
        if required:
            problems.add(mapping.line, f"{where} needs a {key!r}")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        problems.add(line, f"{key!r} of {where} must be text")
        return ""
    value = str(value).strip()
    if required and not value:
        problems.add(line, f"{key!r} of {where} is empty")
    if key == "name" and ("\n" in value or len(value) > 200):
        problems.add(line, f"the name of {where} must be one line of at most 200 characters")
    return value


def _money(mapping: _Mapping, key: str, problems: _Problems) -> Decimal | None:
    if key not in mapping:
        return None
    value, line = mapping[key], mapping.key_lines[key]
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        amount = Decimal(str(value))
    except InvalidOperation:
        problems.add(line, f"budget {key} must be a number of US dollars, not {value!r}")
        return None
    if not amount.is_finite() or amount < 0:
        problems.add(line, f"budget {key} must be zero or more")
        return None
    if amount >= Decimal("1e8") or amount != amount.quantize(Decimal("0.000001")):
        problems.add(line, f"budget {key} must be below 100,000,000 with at most 6 decimals")
        return None
    return amount


def _parse_front_matter(meta: _Mapping, problems: _Problems) -> dict[str, Any]:
    _unknown_keys(meta, _FRONT_MATTER_KEYS, "the front matter", problems)
    language = meta.get("language")
    if language is not None and language not in LANGUAGES:
        problems.add(
            meta.key_lines["language"],
            f"unsupported language {language!r} (supported: {', '.join(LANGUAGES)})",
        )
        language = None
    budget = meta.get("budget") or _Mapping()
    hard_cap = soft_cap = None
    if not isinstance(budget, _Mapping):
        problems.add(meta.key_lines["budget"], "'budget' must be a mapping of caps")
    else:
        _unknown_keys(budget, _BUDGET_KEYS, "'budget'", problems)
        hard_cap = _money(budget, "hard_cap_usd", problems)
        soft_cap = _money(budget, "soft_cap_usd", problems)
    hard_cap = settings.MGE_BUDGET_HARD_CAP_USD if hard_cap is None else hard_cap
    if soft_cap is None:
        soft_cap = (hard_cap * settings.MGE_BUDGET_SOFT_CAP_RATIO).quantize(Decimal("0.000001"))
    elif soft_cap > hard_cap:
        problems.add(
            budget.key_lines.get("soft_cap_usd"),
            f"budget soft_cap_usd ({soft_cap}) must not exceed hard_cap_usd ({hard_cap})",
        )
    return {
        "name": _text(meta, "name", "the front matter", problems, required=True),
        "description": _text(meta, "description", "the front matter", problems, required=False),
        "model": _text(meta, "model", "the front matter", problems, required=False),
        "language": language,
        "hard_cap_usd": hard_cap,
        "soft_cap_usd": soft_cap,
        "options": _parse_options(meta, problems),
        "front_matter_requirements": _parse_requirements(meta, problems),
    }


def _parse_options(meta: _Mapping, problems: _Problems) -> dict[str, Any]:
    options = meta.get("options")
    if options is None:
        return {}
    if not isinstance(options, _Mapping):
        problems.add(meta.key_lines["options"], "'options' must be a mapping")
        return {}
    _unknown_keys(options, set(_OPTION_KEYS), "'options'", problems)
    parsed = {}
    for key, kind in _OPTION_KEYS.items():
        if key not in options:
            continue
        value = options[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            problems.add(options.key_lines[key], f"option {key} must be a whole number")
        elif kind is bool and not isinstance(value, bool):
            problems.add(options.key_lines[key], f"option {key} must be true or false")
        elif key == "max_attempts" and not 1 <= value <= 10:
            problems.add(options.key_lines[key], "option max_attempts must be between 1 and 10")
        else:
            parsed[key] = value
    return parsed


def _parse_requirements(meta: _Mapping, problems: _Problems) -> list[RequirementSpec] | None:
    """`requirements:` as a plain list (each classified by its keywords) or as a mapping of
    `must` and `should` lists (the key decides, like a `### MUST` heading)."""
    if "requirements" not in meta:
        return None
    value, line = meta["requirements"], meta.key_lines["requirements"]
    if isinstance(value, _Sequence):
        return _requirement_list(value, None, "'requirements'", problems)
    if not isinstance(value, _Mapping):
        problems.add(
            line,
            "'requirements' must be a list of requirements or a mapping of 'must' and "
            "'should' lists",
        )
        return []
    _unknown_keys(value, set(_REQUIREMENT_LISTS), "'requirements'", problems)
    found: list[RequirementSpec] = []
    for key in _REQUIREMENT_LISTS:
        if key not in value:
            continue
        where = f"'requirements.{key}'"
        if isinstance(value[key], _Sequence):
            found += _requirement_list(value[key], key, where, problems)
        else:
            problems.add(value.key_lines[key], f"{where} must be a list of requirements")
    return sorted(found, key=lambda requirement: requirement.line)


def _requirement_list(
    items: _Sequence, listed_as: str | None, where: str, problems: _Problems
) -> list[RequirementSpec]:
    found = []
    for item, line in zip(items, items.item_lines, strict=True):
        if not isinstance(item, str):
            # Usually an unquoted item with ": " in it, which YAML reads as a mapping.
            problems.add(line, f"a requirement in {where} is not text (quote it if it has ': ')")
            continue
        text = " ".join(item.split())  # a folded or multi-line item reads as one line
        if not text:
            problems.add(line, f"a requirement in {where} is empty")
            continue
        found.append(RequirementSpec(text, listed_as, line))
    return found


def _plan_block(lines: list[str], body_start: int) -> tuple[str, int] | None:
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


def _parse_plan_block(
    lines: list[str], body_start: int, default_language: str | None, problems: _Problems
) -> list[PhaseSpec]:
    block = _plan_block(lines, body_start)
    if block is None:
        problems.add(
            None,
            f"the document has no '{PLAN_HEADING}' section with a ```yaml block holding "
            "the phases → milestones → tasks → atoms tree",
        )
        return []
    plan = _load_yaml(block[0], block[1], "plan")
    if not isinstance(plan, _Mapping) or set(plan) != {"phases"}:
        problems.add(block[1], "the plan block must hold exactly one key, 'phases'")
        return []
    return [
        _parse_phase(phase, position, default_language, problems)
        for position, phase in _items(plan, "phases", "the plan", problems)
    ]


def _items(
    mapping: _Mapping, key: str, where: str, problems: _Problems
) -> list[tuple[int, _Mapping]]:
    values = mapping.get(key)
    line = mapping.key_lines.get(key, mapping.line)
    if not isinstance(values, list) or not values:
        problems.add(line, f"{where} needs a non-empty list of {key!r}")
        return []
    items = []
    for position, value in enumerate(values):
        if isinstance(value, _Mapping):
            items.append((position, value))
        else:
            problems.add(line, f"each entry of {key!r} in {where} must be a mapping")
    return items


def _parse_branch(
    data: _Mapping,
    position: int,
    kind: str,
    children_key: str,
    parse_child: Callable[[_Mapping, int], Any],
    problems: _Problems,
) -> tuple[str, str, list[Any]]:
    """Name, description and parsed children of a phase, milestone or task."""
    where = f"{kind} {position + 1}"
    _unknown_keys(data, {"name", "description", children_key}, where, problems)
    name = _text(data, "name", where, problems, required=True)
    where = f"{kind} {name!r}"
    description = _text(data, "description", where, problems, required=False)
    children = [
        parse_child(child, index) for index, child in _items(data, children_key, where, problems)
    ]
    return name, description, children


def _parse_phase(
    data: _Mapping, position: int, language: str | None, problems: _Problems
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
    data: _Mapping, position: int, language: str | None, problems: _Problems
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
    data: _Mapping, position: int, language: str | None, problems: _Problems
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
    data: _Mapping, position: int, language: str | None, problems: _Problems
) -> AtomSpec:
    where = f"atom {position + 1}"
    _unknown_keys(data, _ATOM_KEYS, where, problems)
    name = _text(data, "name", where, problems, required=True)
    where = f"atom {name!r}"
    file_path = _atom_file(data, where, problems)
    return AtomSpec(
        name=name,
        file_path=file_path,
        language=_atom_language(data, file_path, where, language, problems),
        complexity=_atom_complexity(data, where, problems),
        spec=_text(data, "spec", where, problems, required=True),
        depends_on=_atom_depends_on(data, where, problems),
        line=data.line,
        depends_on_line=data.key_lines.get("depends_on", data.line),
    )


def _atom_file(data: _Mapping, where: str, problems: _Problems) -> str:
    path = _text(data, "file", where, problems, required=True)
    if not path:
        return ""
    try:
        return check_relative_path(path)
    except WorkspacePathError as error:
        problems.add(data.key_lines["file"], f"{where}: {error} ({path!r})")
        return ""


def _atom_language(
    data: _Mapping, file_path: str, where: str, default: str | None, problems: _Problems
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


def _atom_complexity(data: _Mapping, where: str, problems: _Problems) -> str:
    complexity = data.get("complexity", "medium")
    if complexity not in COMPLEXITIES:
        problems.add(
            data.key_lines["complexity"],
            f"{where}: complexity must be one of {', '.join(COMPLEXITIES)}, not {complexity!r}",
        )
        return "medium"
    return str(complexity)


def _atom_depends_on(data: _Mapping, where: str, problems: _Problems) -> list[str]:
    value = data.get("depends_on") or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(
            data.key_lines.get("depends_on"), f"{where}: depends_on must be a list of atom names"
        )
        return []
    return list(dict.fromkeys(item.strip() for item in value))


def _check_atoms(document: MasterPlanDocument, problems: _Problems) -> None:
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
