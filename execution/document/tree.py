"""A masterplan's rows from its parsed document: the hierarchy, the atoms, their declared
dependencies and the waves (topological levels of the dependency graph)."""

from __future__ import annotations

from execution.dependencies.graph import topological_levels
from execution.document.spec import MasterPlanDocument
from execution.models import Atom, AtomDependency, MasterPlan, Milestone, Phase, Task, Wave


def create_tree(masterplan: MasterPlan, document: MasterPlanDocument) -> None:
    max_attempts = document.options.get("max_attempts", 3)
    levels = topological_levels(
        [atom.name for atom in document.atoms],
        {atom.name: atom.depends_on for atom in document.atoms},
    )
    waves = Wave.objects.bulk_create(
        Wave(masterplan=masterplan, number=number, atom_count=len(names))
        for number, names in enumerate(levels, start=1)
    )
    wave_of = {name: waves[index] for index, names in enumerate(levels) for name in names}
    atoms: dict[str, Atom] = {}
    for phase_position, phase_spec in enumerate(document.phases):
        phase = Phase.objects.create(
            masterplan=masterplan,
            name=phase_spec.name,
            description=phase_spec.description,
            position=phase_position,
        )
        for milestone_position, milestone_spec in enumerate(phase_spec.milestones):
            milestone = Milestone.objects.create(
                phase=phase,
                name=milestone_spec.name,
                description=milestone_spec.description,
                position=milestone_position,
            )
            tasks = Task.objects.bulk_create(
                Task(
                    milestone=milestone,
                    name=task_spec.name,
                    description=task_spec.description,
                    position=task_position,
                )
                for task_position, task_spec in enumerate(milestone_spec.tasks)
            )
            for task, task_spec in zip(tasks, milestone_spec.tasks, strict=True):
                for atom_position, atom_spec in enumerate(task_spec.atoms):
                    atoms[atom_spec.name] = Atom(
                        masterplan=masterplan,
                        task=task,
                        wave=wave_of[atom_spec.name],
                        name=atom_spec.name,
                        description=atom_spec.spec,
                        file_path=atom_spec.file_path,
                        language=atom_spec.language,
                        complexity=atom_spec.complexity,
                        position=atom_position,
                        source_line=atom_spec.line,
                        max_attempts=max_attempts,
                    )
    Atom.objects.bulk_create(atoms.values())
    AtomDependency.objects.bulk_create(
        AtomDependency(
            masterplan=masterplan,
            atom=atoms[atom_spec.name],
            depends_on=atoms[dependency],
            kind=AtomDependency.Kind.DECLARED,
        )
        for atom_spec in document.atoms
        for dependency in atom_spec.depends_on
    )
