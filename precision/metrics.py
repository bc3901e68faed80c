"""Prometheus gauges of the precision score (the seed's names), read at scrape time from
each plan's latest snapshot."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import OuterRef, Subquery
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from precision.models import PrecisionSnapshot


def latest_snapshots() -> list[PrecisionSnapshot]:
    """Each plan's newest snapshot, in one query."""
    newest = PrecisionSnapshot.objects.filter(masterplan=OuterRef("masterplan")).order_by(
        "-created_at"
    )
    return list(PrecisionSnapshot.objects.filter(pk=Subquery(newest.values("pk")[:1])))


GAUGES = (
    "v2_precision_percent",
    "v2_spec_conformance_percent",
    "v2_integration_pass_percent",
    "v2_validation_pass_percent",
)


class PrecisionCollector(Collector):
    def describe(self) -> Iterator[Metric]:
        """Names only: registering must not query the database (it may not exist yet)."""
        for name in GAUGES:
            yield GaugeMetricFamily(name, name, labels=["masterplan_id"])

    def collect(self) -> Iterator[Metric]:
        try:
            snapshots = latest_snapshots()
        except DatabaseError:
            return
        labels = ["masterplan_id"]
        precision = GaugeMetricFamily(
            "v2_precision_percent",
            "Composite precision score of the plan's latest snapshot",
            labels=labels,
        )
        spec = GaugeMetricFamily(
            "v2_spec_conformance_percent",
            "Spec conformance (acceptance tests), 50 % of it",
            labels=labels,
        )
        integration = GaugeMetricFamily(
            "v2_integration_pass_percent",
            "L2–L3 integration checks passed, 30 % of it",
            labels=labels,
        )
        validation = GaugeMetricFamily(
            "v2_validation_pass_percent",
            "L1–L4 checks passed (level=all: the component, 20 % of it; 1–4: per level)",
            labels=[*labels, "level"],
        )
        for snapshot in snapshots:
            plan = [str(snapshot.masterplan_id)]
            precision.add_metric(plan, snapshot.score * 100)
            spec.add_metric(plan, snapshot.spec_conformance * 100)
            integration.add_metric(plan, snapshot.integration_pass * 100)
            validation.add_metric([*plan, "all"], snapshot.validation_pass * 100)
            by_level = (snapshot.counts.get("validation_pass") or {}).get("by_level") or {}
            for level, figures in sorted(by_level.items()):
                if figures.get("total"):
                    validation.add_metric(
                        [*plan, level], figures["passed"] / figures["total"] * 100
                    )
        yield from (precision, spec, integration, validation)
