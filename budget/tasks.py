"""RQ entry points of the budget."""

from __future__ import annotations

import uuid
from decimal import Decimal

from budget.abandoned import settle_expired
from budget.counters import BudgetCounters
from budget.models import CostEntry
from execution.models import MasterPlan


def settle_expired_reservations() -> int:
    """Periodic: reservations past their TTL, which no worker settled, are charged at an
    estimate (budget.abandoned). Returns how many."""
    return settle_expired()


def rebuild_counters(masterplan_id: uuid.UUID) -> Decimal:
    """Set a plan's Redis counters from the ledger; returns the spent amount."""
    masterplan = MasterPlan.objects.get(pk=masterplan_id)
    spent = CostEntry.objects.filter(masterplan=masterplan).total()
    BudgetCounters().rebuild(
        masterplan.pk, masterplan.budget_hard_cap_usd, masterplan.budget_soft_cap_usd, spent
    )
    return spent
