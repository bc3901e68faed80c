"""A masterplan's atom graph as the API and the page show it: atoms by wave, declared and
detected dependencies, the ones against the wave order, and a layout for the SVG."""

from __future__ import annotations

from dataclasses import dataclass

from execution.models import Atom, AtomDependency, MasterPlan

COLUMN, ROW, BOX_WIDTH, BOX_HEIGHT, MARGIN = 230, 34, 190, 24, 24


@dataclass(frozen=True)
class Box:
    atom: Atom
    x: int
    y: int

    @property
    def label(self) -> str:
        return self.atom.name if len(self.atom.name) <= 26 else self.atom.name[:25] + "…"


@dataclass(frozen=True)
class Line:
    dependency: AtomDependency
    dependant: Box
    needed: Box
    """The atom depended on."""
    against_order: bool
    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def declared(self) -> bool:
        return self.dependency.kind == AtomDependency.Kind.DECLARED


@dataclass(frozen=True)
class AtomGraph:
    masterplan: MasterPlan
    waves: list[tuple[int, list[Box]]]
    lines: list[Line]
    width: int
    height: int

    @property
    def detected(self) -> int:
        """Dependencies read from the generated code, not declared."""
        return sum(not line.declared for line in self.lines)

    @property
    def against_wave_order(self) -> int:
        return sum(line.against_order for line in self.lines)

    def as_json(self) -> dict[str, object]:
        return {
            "masterplan_id": str(self.masterplan.pk),
            "waves": [
                {"number": number, "atoms": [str(box.atom.pk) for box in boxes]}
                for number, boxes in self.waves
            ],
            "atoms": [
                {
                    "id": str(box.atom.pk),
                    "name": box.atom.name,
                    "file_path": box.atom.file_path,
                    "wave": number,
                    "status": box.atom.status,
                }
                for number, boxes in self.waves
                for box in boxes
            ],  # fmt: skip
            "edges": [
                {
                    "atom": str(line.dependency.atom_id),
                    "depends_on": str(line.dependency.depends_on_id),
                    "kind": line.dependency.kind,
                    "line": line.dependency.line,
                    "declared": line.declared,
                    "against_wave_order": line.against_order,
                }
                for line in self.lines
            ],  # fmt: skip
            "detected": self.detected,
            "against_wave_order": self.against_wave_order,
        }


def atom_graph(masterplan: MasterPlan) -> AtomGraph:
    """Two queries: the atoms with their waves, the dependencies."""
    atoms = list(
        masterplan.atoms.select_related("wave").order_by("wave__number", "source_line", "pk")
    )
    by_wave: dict[int, list[Atom]] = {}
    for atom in atoms:
        by_wave.setdefault(atom.wave.number if atom.wave else 0, []).append(atom)
    boxes: dict[object, Box] = {}
    waves = []
    for column, (number, members) in enumerate(sorted(by_wave.items())):
        placed = [
            Box(atom, MARGIN + column * COLUMN, MARGIN + 20 + row * ROW)
            for row, atom in enumerate(members)
        ]
        boxes.update((box.atom.pk, box) for box in placed)
        waves.append((number, placed))
    lines = []
    for dependency in AtomDependency.objects.filter(masterplan=masterplan).order_by("pk"):
        source, target = boxes.get(dependency.atom_id), boxes.get(dependency.depends_on_id)
        if source is None or target is None:
            continue
        against = _wave(target.atom) >= _wave(source.atom)
        # From the dependency's right edge to the dependant's left edge.
        lines.append(
            Line(
                dependency,
                source,
                target,
                against,
                target.x + BOX_WIDTH,
                target.y + BOX_HEIGHT // 2,
                source.x,
                source.y + BOX_HEIGHT // 2,
            )
        )
    tallest = max((len(members) for _, members in waves), default=0)
    return AtomGraph(
        masterplan, waves, lines,
        width=2 * MARGIN + max(1, len(waves)) * COLUMN,
        height=2 * MARGIN + 20 + max(1, tallest) * ROW,
    )  # fmt: skip


def _wave(atom: Atom) -> int:
    return atom.wave.number if atom.wave else 0
