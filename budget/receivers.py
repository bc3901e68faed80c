from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from budget.abandoned import settle_abandoned_calls
from budget.caps import held_message, hold_imported_caps
from budget.counters import sync_caps
from budget.pricing import UnknownModel, price_for
from execution.document.format import FormatProblem, MasterPlanFormatError
from execution.models import MasterPlan
from execution.signals import atoms_abandoned, caps_changed, masterplan_imported


@receiver(masterplan_imported, dispatch_uid="budget.check_model_price")
def check_model_price(sender: object, masterplan: MasterPlan, **kwargs: Any) -> None:
    """A document naming a model we cannot price is refused: it would run at $0."""
    if not masterplan.default_model:
        return
    try:
        price_for(masterplan.default_model)
    except UnknownModel as error:
        raise MasterPlanFormatError(
            [FormatProblem(None, f"front matter 'model': {error}")]
        ) from None


@receiver(masterplan_imported, dispatch_uid="budget.hold_caps_above_the_limit")
def hold_caps_above_the_limit(sender: object, masterplan: MasterPlan, **kwargs: Any) -> str:
    """A hard cap above what the importer may set waits for an approver."""
    held = hold_imported_caps(masterplan, masterplan.created_by)
    return held_message(held) if held else ""


@receiver(caps_changed, dispatch_uid="budget.sync_caps")
def sync_edited_caps(sender: object, masterplan: MasterPlan, **kwargs: Any) -> None:
    """Caps edited in the admin reach the live counters (the budget's verbs sync their own)."""
    sync_caps(masterplan)


@receiver(atoms_abandoned, dispatch_uid="budget.settle_abandoned_calls")
def settle_calls_of_a_dead_worker(
    sender: object, masterplan_id: str, atom_ids: list[str], **kwargs: Any
) -> None:
    settle_abandoned_calls(masterplan_id, atom_ids)
