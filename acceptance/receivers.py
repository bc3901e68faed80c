from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from acceptance.models import Requirement
from acceptance.requirements import parse_structured_requirements
from execution.masterplan_format import MasterPlanDocument
from execution.models import MasterPlan
from execution.signals import masterplan_imported


@receiver(masterplan_imported, dispatch_uid="acceptance.create_requirements")
def create_requirements(
    sender: object, masterplan: MasterPlan, document: MasterPlanDocument, **kwargs: Any
) -> None:
    parsed = parse_structured_requirements(document.body, document.body_first_line)
    Requirement.objects.bulk_create(
        Requirement(
            masterplan=masterplan,
            text=requirement.text,
            priority=requirement.priority,
            source_line=requirement.line,
            position=position,
        )
        for position, requirement in enumerate(parsed)
    )
