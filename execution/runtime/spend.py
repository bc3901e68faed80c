"""What a masterplan has spent: the ledger's sum, one source everywhere (list, detail,
API, CLI, metrics). The ledger is the budget app's; it plugs in the expression
(BudgetConfig.ready), and execution imports no budget code. Unplugged, nothing is priced
and spend reads $0."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.db.models import DecimalField, Expression, Value

_spent: Callable[[], Expression] | None = None


def use_spent_expression(factory: Callable[[], Expression]) -> None:
    """`factory()` gives an expression of a MasterPlan queryset: its rows' spend in USD."""
    global _spent
    _spent = factory


def spent_expression() -> Expression:
    if _spent is None:
        return Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=6))
    return _spent()
