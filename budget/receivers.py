from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from budget.counters import BudgetCounters
from budget.pricing import UnknownModel, price_for
from execution.masterplan_format import FormatProblem, MasterPlanFormatError
from execution.models import MasterPlan
from execution.signals import masterplan_imported


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


@receiver(post_save, sender=MasterPlan, dispatch_uid="budget.sync_caps")
def sync_caps(sender: object, instance: MasterPlan, **kwargs: Any) -> None:
    """Caps changed by an override, the API or the admin reach the Redis counters, if loaded
    (unloaded counters read the caps from the database when first needed)."""

    def push() -> None:
        counters = BudgetCounters()
        if counters.snapshot(instance.pk) is not None:
            counters.set_caps(
                instance.pk, instance.budget_hard_cap_usd, instance.budget_soft_cap_usd
            )

    transaction.on_commit(push)
