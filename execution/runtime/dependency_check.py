"""The check after each wave that reads what the generated code really imports.

The files written so far are analysed (execution.dependencies.source_graph). An import
between two atoms' files that the masterplan did not declare is added to the plan's
dependencies (kind import / type_import / dynamic_import / require / reexport, with its
line), so the graph, the page and later decisions see it. An import that runs against
the wave order — the importing atom ran in the same wave as the file it imports, or
before it — fails the check: that atom was written without the code it uses, and the
document should declare `depends_on`. The verdict is the plan's at its end; the next
wave does not wait for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from execution.dependencies.source_graph import Edge, build_graph
from execution.dependencies.tsconfig import ConfigError
from execution.models import Atom, AtomDependency, Wave
from execution.runtime.checks import Check, Verdict

CHECK_NAME = "dependencies"
KINDS = {
    "import": AtomDependency.Kind.IMPORT,
    "type_import": AtomDependency.Kind.TYPE_IMPORT,
    "dynamic": AtomDependency.Kind.DYNAMIC_IMPORT,
    "require": AtomDependency.Kind.REQUIRE,
    "reexport": AtomDependency.Kind.REEXPORT,
}


@dataclass(frozen=True)
class AgainstOrder:
    atom: str
    wave: int
    depends_on: str
    depends_on_wave: int
    line: int
    file_path: str

    def sentence(self) -> str:
        when = "in the same wave" if self.wave == self.depends_on_wave else "before it"
        return (
            f"{self.atom} (wave {self.wave}) imports {self.depends_on} (wave "
            f"{self.depends_on_wave}) at {self.file_path}:{self.line}, and ran {when}"
        )


def after_wave(wave: Wave) -> Verdict:
    masterplan = wave.masterplan
    try:
        graph = build_graph(Path(masterplan.workspace_path))
    except ConfigError as error:
        return Verdict(None, f"The workspace's TypeScript config cannot be read: {error}")
    atoms = {
        atom.file_path: atom
        for atom in masterplan.atoms.filter(status=Atom.Status.COMPLETED).select_related("wave")
    }
    added, against = record_edges(masterplan.pk, graph.edges, atoms)
    summary = (
        f"{len(graph.edges)} imports in {len(graph.files)} files; {added} not declared, "
        "added to the plan's dependencies"
    )
    if against:
        return Verdict(
            False,
            "Imports against the wave order: "
            + "; ".join(item.sentence() for item in against[:5])
            + (f"; and {len(against) - 5} more" if len(against) > 5 else "")
            + ". Declare them with depends_on in the document.",
        )
    return Verdict(True, summary)


def record_edges(
    masterplan_id: uuid.UUID, edges: list[Edge], atoms: dict[str, Atom]
) -> tuple[int, list[AgainstOrder]]:
    """Add the undeclared atom-to-atom edges; returns how many, and those against the
    wave order."""
    existing = set(
        AtomDependency.objects.filter(masterplan_id=masterplan_id).values_list(
            "atom_id", "depends_on_id"
        )
    )
    new: dict[tuple[uuid.UUID, uuid.UUID], AtomDependency] = {}
    against = []
    reported: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for edge in edges:
        source, target = atoms.get(edge.source), atoms.get(edge.target)
        if source is None or target is None or source.pk == target.pk:
            continue
        pair = (source.pk, target.pk)
        waves = (source.wave.number if source.wave else 0, target.wave.number if target.wave else 0)
        if waves[1] >= waves[0] and pair not in reported:
            reported.add(pair)
            against.append(
                AgainstOrder(source.name, waves[0], target.name, waves[1], edge.line, edge.source)
            )
        if pair not in existing and pair not in new:
            new[pair] = AtomDependency(
                masterplan_id=masterplan_id, atom=source, depends_on=target,
                kind=KINDS[edge.kind], line=edge.line,
            )  # fmt: skip
    with transaction.atomic():
        AtomDependency.objects.bulk_create(new.values(), ignore_conflicts=True)
    return len(new), against


DEPENDENCY_CHECK = Check(
    name=CHECK_NAME,
    decide=after_wave,
    enabled=lambda: bool(settings.MGE_DEPENDENCIES_AFTER_WAVES),
    waiting="the generated code's imports are read now",
)
