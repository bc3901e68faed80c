from __future__ import annotations

import uuid
from typing import Any

from django import template

from acceptance.gate import GateStatus, gate_statuses
from execution.models import MasterPlan

register = template.Library()


@register.inclusion_tag("acceptance/_gate_badge.html", takes_context=True)
def gate_badge(context: template.Context, masterplan: MasterPlan) -> dict[str, Any]:
    """The release gate of a plan: passed, or blocked with the reason.

    On a page listing `masterplans`, the first badge reads every plan's gate at once.
    """
    cache: dict[uuid.UUID, GateStatus] | None = context.render_context.get("gate_statuses")
    if cache is None:
        cache = context.render_context["gate_statuses"] = {}
    if masterplan.pk not in cache:
        listed = [plan.pk for plan in context.get("masterplans") or []]
        cache.update(gate_statuses(listed if masterplan.pk in listed else [masterplan.pk]))
    never_ran = masterplan.status in (MasterPlan.Status.DRAFT, MasterPlan.Status.READY)
    return {"masterplan": masterplan, "gate": cache[masterplan.pk], "not_run": never_ran}
