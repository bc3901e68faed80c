"""Budget figures for Prometheus, read from the database at scrape time (seed names)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Sum
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from execution.models import Atom, MasterPlan

GAUGES = (
    "v2_cost_per_project_usd",
    "v2_budget_soft_cap_usd",
    "v2_budget_hard_cap_usd",
    "v2_budget_warning",
    "v2_budget_critical",
)
# Upper bounds of the per-atom cost histogram, USD.
ATOM_COST_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


class BudgetCollector:
    """Every masterplan's spend and caps, and how atom costs are spread."""

    def describe(self) -> Iterator[Metric]:
        """Names only: registering must not query the database (it may not exist yet)."""
        for name in GAUGES:
            yield GaugeMetricFamily(name, name, labels=["masterplan_id"])
        yield HistogramMetricFamily("v2_cost_per_atom_usd", "USD an atom cost")

    def collect(self) -> Iterator[Metric]:
        labels = ["masterplan_id"]
        spent = GaugeMetricFamily("v2_cost_per_project_usd", "USD spent (ledger)", labels=labels)
        soft = GaugeMetricFamily("v2_budget_soft_cap_usd", "Soft cap, USD", labels=labels)
        hard = GaugeMetricFamily("v2_budget_hard_cap_usd", "Hard cap, USD", labels=labels)
        warning = GaugeMetricFamily(
            "v2_budget_warning", "1 once spend passed the soft cap", labels=labels
        )
        critical = GaugeMetricFamily(
            "v2_budget_critical", "1 while paused at, or past, the hard cap", labels=labels
        )
        plans = MasterPlan.objects.annotate(spent=Sum("cost_entries__cost_usd")).values_list(
            "pk", "spent", "budget_soft_cap_usd", "budget_hard_cap_usd", "status"
        )
        for pk, total, soft_cap, hard_cap, status in plans:
            total = total or Decimal(0)
            label = [str(pk)]
            spent.add_metric(label, float(total))
            soft.add_metric(label, float(soft_cap))
            hard.add_metric(label, float(hard_cap))
            warning.add_metric(label, float(total >= soft_cap))
            paused = status == MasterPlan.Status.PAUSED_BUDGET
            critical.add_metric(label, float(paused or total >= hard_cap))
        yield from (spent, soft, hard, warning, critical)
        yield _atom_cost_histogram()


def _atom_cost_histogram() -> HistogramMetricFamily:
    costs = [
        float(cost)
        for cost in Atom.objects.filter(cost_usd__gt=0).values_list("cost_usd", flat=True)
    ]
    buckets = [(str(bound), sum(1 for c in costs if c <= bound)) for bound in ATOM_COST_BUCKETS]
    buckets.append(("+Inf", len(costs)))
    return HistogramMetricFamily(
        "v2_cost_per_atom_usd", "USD an atom cost", buckets=buckets, sum_value=sum(costs)
    )
