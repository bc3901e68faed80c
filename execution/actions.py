"""Writes to the masterplan domain, each one transaction named for its change."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.db import transaction

from execution.dependencies.graph import topological_levels
from execution.masterplan_format import MasterPlanDocument, parse_masterplan
from execution.models import Atom, AtomDependency, MasterPlan, Milestone, Phase, Task, Wave
from execution.signals import masterplan_imported
from execution.workspace import workspace_dir

if TYPE_CHECKING:
    from execution.lifecycle import PlanId


class MasterPlanBusyError(Exception):
    """The masterplan is running; the change would pull rows from under its workers."""


def import_masterplan(text: str, *, created_by: User | None = None) -> MasterPlan:
    """Create a masterplan from its document, or raise MasterPlanFormatError.

    Parsing and every check happen before the first write; the writes share one
    transaction, so a rejected document leaves no rows behind.
    """
    document = parse_masterplan(text)
    with transaction.atomic():
        masterplan = MasterPlan(
            name=document.name,
            summary=document.description,
            description=text,
            budget_hard_cap_usd=document.hard_cap_usd,
            budget_soft_cap_usd=document.soft_cap_usd,
            default_model=document.model,
            options=document.options,
            created_by=created_by,
        )
        masterplan.workspace_path = str(workspace_dir(masterplan.id))
        masterplan.save()
        _create_tree(masterplan, document)
        masterplan_imported.send(sender=MasterPlan, masterplan=masterplan, document=document)
    return masterplan


def _create_tree(masterplan: MasterPlan, document: MasterPlanDocument) -> None:
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


def delete_masterplan(masterplan_id: PlanId) -> None:
    """Delete a masterplan, its rows and its workspace; refuse while it runs."""
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        if masterplan.is_active:
            raise MasterPlanBusyError(
                f"masterplan {masterplan.name!r} is {masterplan.status}; cancel it first"
            )
        workspace = masterplan.workspace_path
        masterplan.delete()
        # Files go only once the rows are gone for good.
        transaction.on_commit(lambda: shutil.rmtree(workspace, ignore_errors=True))
