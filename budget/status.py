"""A masterplan's budget as users see it: spent, reserved, caps and the status word."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import DecimalField, Exists, OuterRef, Q, QuerySet, Subquery, Sum

from budget.counters import BudgetCounters
from budget.models import CapRequest, CostEntry, spent_by_masterplan
from execution.models import MONEY, MasterPlan
from mge_site.prepared import PreparedValues


@dataclass(frozen=True)
class BudgetStatus:
    cost_accumulated: Decimal
    reserved_usd: Decimal
    soft_cap_usd: Decimal
    hard_cap_usd: Decimal
    status: str
    estimated_usd: Decimal = Decimal(0)
    """Of the spend, calls whose worker died: charged at an estimate (budget.abandoned)."""

    @property
    def settled_usd(self) -> Decimal:
        """Of the spend, what the provider reported."""
        return self.cost_accumulated - self.estimated_usd

    @property
    def percentage_used(self) -> Decimal:
        if not self.hard_cap_usd:
            return Decimal(100)
        return (self.cost_accumulated * 100 / self.hard_cap_usd).quantize(Decimal("0.01"))

    @property
    def remaining_budget(self) -> Decimal:
        return max(Decimal(0), self.hard_cap_usd - self.cost_accumulated)


def lowest_budget_remaining_pct() -> float | None:
    """The smallest share of its hard cap any running masterplan has left (a signal of the
    concurrency controller), or None when nothing runs."""
    plans = MasterPlan.objects.filter(status=MasterPlan.Status.RUNNING).annotate(
        spent=Sum("cost_entries__cost_usd")
    )
    shares = [
        float(100 * (plan.budget_hard_cap_usd - (plan.spent or 0)) / plan.budget_hard_cap_usd)
        for plan in plans
        if plan.budget_hard_cap_usd
    ]
    return min(shares, default=None)


def reserved_now(masterplan_id: UUID) -> str:
    """What the plan has reserved at this moment (the live counter in Redis)."""
    return str(BudgetCounters().reserved([masterplan_id])[masterplan_id])


def ledger_annotations() -> dict[str, Any]:
    """A plan's ledger sums and whether a cap request waits, as expressions on the plan."""
    estimated = (
        CostEntry.objects.filter(masterplan=OuterRef("pk"), kind=CostEntry.Kind.ESTIMATED)
        .order_by()
        .values("masterplan")
        .annotate(total=Sum("cost_usd"))
        .values("total")
    )
    return {
        "ledger_spent": spent_by_masterplan(),
        "ledger_estimated": Subquery(estimated, DecimalField(**MONEY)),
        "cap_request_waits": Exists(
            CapRequest.objects.filter(masterplan=OuterRef("pk"), status=CapRequest.Status.PENDING)
        ),
    }


def with_ledger(plans: QuerySet[MasterPlan]) -> QuerySet[MasterPlan]:
    """The plans with their ledger's sums and whether a cap request waits, in the same
    query: the budget answer, polled by clients, reads one row rather than three."""
    return plans.annotate(**ledger_annotations())


_WITH_LEDGER = PreparedValues(
    lambda pk: MasterPlan.objects.filter(pk=pk).values(
        "id",
        "name",
        "status",
        "budget_soft_cap_usd",
        "budget_hard_cap_usd",
        **ledger_annotations(),
    ),
    UUID,
)


def with_ledger_by_id(masterplan_id: UUID) -> MasterPlan | None:
    """The plan `with_ledger`, its other fields deferred, by SQL compiled once (a polled
    answer: mge_site.prepared); None if there is no such plan."""
    return _WITH_LEDGER.instance(MasterPlan, masterplan_id)


def budget_status(masterplan: MasterPlan) -> BudgetStatus:
    """The plan's budget; one read `with_ledger` brings its sums along (no query)."""
    if not hasattr(masterplan, "ledger_spent"):
        return budget_statuses([masterplan])[masterplan.pk]
    annotated: Any = masterplan
    reserved = BudgetCounters().reserved([masterplan.pk])[masterplan.pk]
    spent, estimated = annotated.ledger_spent, annotated.ledger_estimated
    return _status_of(masterplan, _micro(spent), reserved, _micro(estimated))


def budget_statuses(masterplans: Iterable[MasterPlan]) -> dict[object, BudgetStatus]:
    """Spent from the ledger (the truth) and reserved from the live counters, for many
    plans in one query and one Redis round trip (a list page shows a bar per plan)."""
    masterplans = list(masterplans)
    ids = [masterplan.pk for masterplan in masterplans]
    totals = {
        pk: (spent, estimated)
        for pk, spent, estimated in CostEntry.objects.filter(masterplan_id__in=ids)
        .values_list("masterplan_id")
        .annotate(
            total=Sum("cost_usd"),
            estimated=Sum("cost_usd", filter=Q(kind=CostEntry.Kind.ESTIMATED)),
        )
        .order_by()
    }
    reserved_by_plan = BudgetCounters().reserved(ids)
    statuses: dict[object, BudgetStatus] = {}
    for masterplan in masterplans:
        spent, estimated = totals.get(masterplan.pk, (None, None))
        statuses[masterplan.pk] = _status_of(
            masterplan, _micro(spent), reserved_by_plan[masterplan.pk], _micro(estimated)
        )
    return statuses


def _micro(amount: Decimal | None) -> Decimal:
    """USD to the micro-dollar (PostgreSQL's SUM widens the scale)."""
    return (amount or Decimal(0)).quantize(Decimal("0.000001"))


STATES = ("OK", "WARNING", "CRITICAL", "PAUSED")  # the seed's words, the API's enum


def _status_of(
    masterplan: MasterPlan, spent: Decimal, reserved: Decimal, estimated: Decimal
) -> BudgetStatus:
    hard, soft = masterplan.budget_hard_cap_usd, masterplan.budget_soft_cap_usd
    if masterplan.status == MasterPlan.Status.PAUSED_BUDGET:
        word = "PAUSED"
    elif spent >= hard:
        word = "CRITICAL"
    elif spent >= soft:
        word = "WARNING"
    else:
        word = "OK"
    return BudgetStatus(spent, reserved, soft, hard, word, estimated)
