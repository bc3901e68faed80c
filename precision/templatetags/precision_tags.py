from __future__ import annotations

from itertools import groupby
from typing import Any

from django import template
from django.utils.html import format_html

from execution.models import MasterPlan
from precision.charts import history_chart
from precision.models import PrecisionSnapshot, ValidationCheck
from precision.scoring import TARGET, WEIGHTS, latest_snapshot

register = template.Library()
HISTORY_POINTS = 60
FAILING_SHOWN = 50


@register.inclusion_tag("precision/_precision_panel.html")
def precision_panel(masterplan: MasterPlan) -> dict[str, Any]:
    """The latest score against the target, its components, the history chart and the
    failing checks of the run it was computed from, grouped by level."""
    snapshots = list(
        PrecisionSnapshot.objects.filter(masterplan=masterplan)
        .select_related("wave", "run__wave")
        .order_by("-created_at")[:HISTORY_POINTS]
    )[::-1]
    latest = snapshots[-1] if snapshots else None
    failing: list[tuple[str, list[ValidationCheck]]] = []
    failing_total = 0
    if latest is not None and latest.run_id:
        rows = ValidationCheck.objects.filter(run_id=latest.run_id, passed=False).select_related(
            "atom"
        )
        failing_total = rows.count()
        shown = rows.order_by("level", "file", "line")[:FAILING_SHOWN]
        labels = dict(ValidationCheck.Level.choices)
        failing = [
            (labels[level], list(checks)) for level, checks in groupby(shown, lambda c: c.level)
        ]
    components = []
    if latest is not None:
        components = [
            {"name": name.replace("_", " "), "weight": weight, "value": getattr(latest, name),
             "no_data": name in latest.no_data}
            for name, weight in WEIGHTS.items()
        ]  # fmt: skip
    return {
        "masterplan": masterplan,
        "latest": latest,
        "target": TARGET,
        "components": components,
        "chart": history_chart(snapshots) if len(snapshots) > 1 else None,
        "failing": failing,
        "failing_total": failing_total,
        "failing_shown": FAILING_SHOWN,
    }


@register.simple_tag
def precision_badge(masterplan: MasterPlan) -> str:
    latest = latest_snapshot(masterplan.pk)
    if latest is None:
        return format_html('<span class="pill muted">{}</span>', "not validated yet")
    met = latest.meets_target
    return format_html(
        '<span class="pill {}">{} ({} the {} target)</span>',
        "ok" if met else "bad",
        percent(latest.score),
        "meets" if met else "below",
        percent(TARGET, 0),
    )


@register.filter
def percent(fraction: float | None, decimals: int = 1) -> str:
    """0.9731 → "97.3 %"; the page's rates are fractions."""
    if fraction is None:
        return "—"
    return f"{fraction * 100:.{decimals}f} %"


@register.filter
def percent_number(fraction: float | None) -> str:
    """A bar's width: 0.9731 → "97.31" (a dot, whatever the locale)."""
    return f"{max(0.0, min(1.0, fraction or 0.0)) * 100:.2f}"
