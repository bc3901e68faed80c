"""Writes to the masterplan domain, each one transaction named for its change."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.db import transaction

from execution.document.format import parse_masterplan
from execution.document.tree import create_tree
from execution.models import MasterPlan
from execution.runtime.workspace import workspace_dir
from execution.signals import masterplan_imported

if TYPE_CHECKING:
    from execution.runtime.lifecycle import PlanId


class MasterPlanBusyError(Exception):
    """The masterplan is running; the change would pull rows from under its workers."""


@dataclass(frozen=True)
class Imported:
    masterplan: MasterPlan
    notices: list[str]
    """What the importer must be told (a receiver's answer: e.g. a cap held for approval)."""


def import_masterplan(text: str, *, created_by: User | None = None) -> MasterPlan:
    """Create a masterplan from its document, or raise MasterPlanFormatError."""
    return import_with_notices(text, created_by=created_by).masterplan


def import_with_notices(text: str, *, created_by: User | None = None) -> Imported:
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
        create_tree(masterplan, document)
        answers = masterplan_imported.send(
            sender=MasterPlan, masterplan=masterplan, document=document
        )
    return Imported(
        masterplan, [answer for _, answer in answers if isinstance(answer, str) and answer]
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
