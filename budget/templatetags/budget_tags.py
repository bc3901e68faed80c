from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from budget.status import budget_status
from execution.models import MasterPlan

register = template.Library()


def _share(part: Decimal, whole: Decimal) -> str:
    return f"{min(Decimal(100), part * 100 / whole):.1f}" if whole else "0"


@register.inclusion_tag("budget/_budget_bar.html")
def budget_bar(masterplan: MasterPlan) -> dict[str, Any]:
    """Spent and reserved against the soft and hard caps, coloured by status."""
    state = budget_status(masterplan)
    scale = max(state.hard_cap_usd, state.cost_accumulated + state.reserved_usd)
    return {
        "masterplan": masterplan,
        "state": state,
        "spent_share": _share(state.cost_accumulated, scale),
        "reserved_share": _share(state.reserved_usd, scale),
        "soft_at": _share(state.soft_cap_usd, scale),
        "hard_at": _share(state.hard_cap_usd, scale),
    }
