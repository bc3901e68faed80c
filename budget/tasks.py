"""RQ entry points of the budget."""

from __future__ import annotations

import uuid
from decimal import Decimal

from budget.counters import BudgetCounters
from budget.guardrails import record_cost
from budget.models import CostEntry
from execution.llm.types import LLMRequest, LLMResponse, Usage
from execution.models import MasterPlan


def charge_expired_reservations() -> int:
    """Periodic: a reservation its worker never settled (it died mid-call) is charged at
    its reserved amount — the provider may have billed the call, and a cap must not
    assume it did not. Returns how many were charged."""
    counters = BudgetCounters()
    charged = 0
    for masterplan_id, reservation_id in counters.expired():
        settled = counters.settle(masterplan_id, reservation_id, None)
        if settled is None or not MasterPlan.objects.filter(pk=masterplan_id).exists():
            continue
        amount = settled.charged_usd
        record_cost(
            LLMRequest(
                model="unknown", system="", messages=[], max_tokens=0, masterplan_id=masterplan_id
            ),  # fmt: skip
            LLMResponse(text="", model="unknown", usage=Usage()),
            amount,
            amount,
            reservation_id,
            kind=CostEntry.Kind.UNSETTLED,
        )
        charged += 1
    return charged


def rebuild_counters(masterplan_id: uuid.UUID) -> Decimal:
    """Set a plan's Redis counters from the ledger; returns the spent amount."""
    masterplan = MasterPlan.objects.get(pk=masterplan_id)
    spent = CostEntry.objects.filter(masterplan=masterplan).total()
    BudgetCounters().rebuild(
        masterplan.pk, masterplan.budget_hard_cap_usd, masterplan.budget_soft_cap_usd, spent
    )
    return spent
