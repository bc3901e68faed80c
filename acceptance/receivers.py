from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from acceptance.classifier import classify
from acceptance.jobs import enqueue
from acceptance.models import Requirement
from acceptance.requirements import parse_requirements
from execution.document.format import MasterPlanDocument
from execution.models import MasterPlan
from execution.signals import masterplan_imported


@receiver(masterplan_imported, dispatch_uid="acceptance.create_requirements")
def create_requirements(
    sender: object, masterplan: MasterPlan, document: MasterPlanDocument, **kwargs: Any
) -> None:
    requirements = []
    for position, parsed in enumerate(parse_requirements(document)):
        classification = classify(parsed.text, parsed.listed_as)
        requirements.append(
            Requirement(
                masterplan=masterplan,
                text=parsed.text,
                priority=classification.priority,
                classified_by=classification.classified_by,
                flag=classification.flag,
                source_line=parsed.line,
                position=position,
            )
        )
    Requirement.objects.bulk_create(requirements)
    if any(r.classified_by == Requirement.ClassifiedBy.DEFAULT for r in requirements):
        # A job, once the import has committed: the call can take minutes, which must
        # neither hold the import's transaction nor keep the uploader waiting, and an
        # import that rolls back is not paid for. Until it answers they count as `must`.
        masterplan_id = str(masterplan.pk)

        def classify_later() -> None:
            enqueue("acceptance.tasks.classify_unclear", masterplan_id, queue="default")

        transaction.on_commit(classify_later, robust=True)
