from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from budget.status import BudgetStatus, budget_statuses
from execution.models import MasterPlan

register = template.Library()


def _share(part: Decimal, whole: Decimal) -> str:
    return f"{min(Decimal(100), part * 100 / whole):.1f}" if whole else "0"


@register.inclusion_tag("budget/_budget_bar.html", takes_context=True)
def budget_bar(context: template.Context, masterplan: MasterPlan) -> dict[str, Any]:
    """Spent (reported, then estimated) and reserved against the soft and hard caps,
    coloured by status.

    On a page listing `masterplans`, the first bar reads every plan's budget at once.
    """
    cache: dict[object, BudgetStatus] | None = context.render_context.get("budget_statuses")
    if cache is None:
        cache = context.render_context["budget_statuses"] = {}
    if masterplan.pk not in cache:
        listed = list(context.get("masterplans") or [])
        if not any(plan.pk == masterplan.pk for plan in listed):
            listed = [masterplan]
        cache.update(budget_statuses(listed))
    state = cache[masterplan.pk]
    scale = max(state.hard_cap_usd, state.cost_accumulated + state.reserved_usd)
    return {
        "masterplan": masterplan,
        "state": state,
        "spent_share": _share(state.settled_usd, scale),
        "estimated_share": _share(state.estimated_usd, scale),
        "reserved_share": _share(state.reserved_usd, scale),
        "soft_at": _share(state.soft_cap_usd, scale),
        "hard_at": _share(state.hard_cap_usd, scale),
    }
