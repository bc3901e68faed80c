"""The masterplan document as plain data: what parsing gives, and what it reports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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

FRONT_MATTER_KEYS = {
    "name",
    "description",
    "model",
    "language",
    "budget",
    "options",
    "requirements",
}
REQUIREMENT_LISTS = ("must", "should")
BUDGET_KEYS = {"hard_cap_usd", "soft_cap_usd"}
OPTION_KEYS = {"enforce_gate_per_wave": bool, "max_attempts": int, "min_precision": float}
ATOM_KEYS = {"name", "file", "language", "complexity", "depends_on", "spec"}
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
