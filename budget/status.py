"""A masterplan's budget as users see it: spent, reserved, caps and the status word."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from budget.counters import BudgetCounters
from budget.models import CostEntry
from execution.models import MasterPlan


@dataclass(frozen=True)
class BudgetStatus:
    cost_accumulated: Decimal
    reserved_usd: Decimal
    soft_cap_usd: Decimal
    hard_cap_usd: Decimal
    status: str

    @property
    def percentage_used(self) -> Decimal:
        if not self.hard_cap_usd:
            return Decimal(100)
        return (self.cost_accumulated * 100 / self.hard_cap_usd).quantize(Decimal("0.01"))

    @property
    def remaining_budget(self) -> Decimal:
        return max(Decimal(0), self.hard_cap_usd - self.cost_accumulated)


def budget_status(masterplan: MasterPlan) -> BudgetStatus:
    """Spent from the ledger (the truth); reserved from the live counters, if any."""
    spent = CostEntry.objects.filter(masterplan=masterplan).total()
    snapshot = BudgetCounters().snapshot(masterplan.pk)
    reserved = snapshot.reserved_usd if snapshot else Decimal(0)
    hard, soft = masterplan.budget_hard_cap_usd, masterplan.budget_soft_cap_usd
    if masterplan.status == MasterPlan.Status.PAUSED_BUDGET:
        word = "PAUSED"
    elif spent >= hard:
        word = "CRITICAL"
    elif spent >= soft:
        word = "WARNING"
    else:
        word = "OK"
    return BudgetStatus(spent, reserved, soft, hard, word)
