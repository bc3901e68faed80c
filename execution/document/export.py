"""A stored masterplan back to its document text (the inverse of the import)."""

from __future__ import annotations

import functools

from django.db.models import Prefetch

from execution.document.format import (
    AtomSpec,
    MasterPlanDocument,
    MilestoneSpec,
    PhaseSpec,
    TaskSpec,
    parse_masterplan,
)
from execution.document.render import render_masterplan, strip_plan_section
from execution.models import Atom, AtomDependency, MasterPlan, Milestone, Phase, Task


def export_masterplan(masterplan: MasterPlan) -> str:
    """The document for the plan as it is stored now: caps and tree from the rows,
    prose and requirements from the imported text."""
    declared = AtomDependency.objects.filter(kind=AtomDependency.Kind.DECLARED)
    atoms = Atom.objects.order_by("position").prefetch_related(
        Prefetch(
            "dependencies",
            declared.select_related("depends_on").order_by("depends_on__source_line"),
        )
    )
    phases = Phase.objects.filter(masterplan=masterplan).prefetch_related(
        Prefetch(
            "milestones",
            Milestone.objects.prefetch_related(
                Prefetch("tasks", Task.objects.prefetch_related(Prefetch("atoms", atoms)))
            ),
        )
    )
    document = MasterPlanDocument(
        name=masterplan.name,
        description=masterplan.summary,
        model=masterplan.default_model,
        language=None,
        hard_cap_usd=masterplan.budget_hard_cap_usd,
        soft_cap_usd=masterplan.budget_soft_cap_usd,
        options=masterplan.options,
        phases=[
            PhaseSpec(
                name=phase.name,
                description=phase.description,
                line=0,
                milestones=[
                    MilestoneSpec(
                        name=milestone.name,
                        description=milestone.description,
                        line=0,
                        tasks=[_task_spec(task) for task in milestone.tasks.all()],
                    )
                    for milestone in phase.milestones.all()
                ],
            )
            for phase in phases
        ],
        body="",
        # Requirements live in the imported text, not in this app's rows (the acceptance
        # app owns them): those of the front matter are carried over from there.
        front_matter_requirements=parse_masterplan(
            masterplan.description
        ).front_matter_requirements,
    )
    prose = strip_plan_section(body_of(masterplan.description))
    return render_masterplan(document, prose)


def _task_spec(task: Task) -> TaskSpec:
    return TaskSpec(
        name=task.name,
        description=task.description,
        line=0,
        atoms=[
            AtomSpec(
                name=atom.name,
                file_path=atom.file_path,
                language=atom.language,
                complexity=atom.complexity,
                spec=atom.description,
                depends_on=[dependency.depends_on.name for dependency in atom.dependencies.all()],
                line=0,
            )
            for atom in task.atoms.all()
        ],
    )


@functools.lru_cache(maxsize=64)
def plan_overview(document_text: str) -> str:
    """What every atom of a plan shares: its document's prose (the overview, the
    requirements), without the front matter and the plan section (each atom has its spec)."""
    return strip_plan_section(body_of(document_text)).strip()


def body_of(document_text: str) -> str:
    """The markdown after the front matter of an imported (hence valid) document."""
    lines = document_text.replace("\r\n", "\n").lstrip("\ufeff").split("\n")
    closing = next(index for index in range(1, len(lines)) if lines[index].strip() == "---")
    return "\n".join(lines[closing + 1 :])
