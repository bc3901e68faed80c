from __future__ import annotations

from typing import Any

from django import template

from acceptance.gate import gate_status
from execution.models import MasterPlan

register = template.Library()


@register.inclusion_tag("acceptance/_gate_badge.html")
def gate_badge(masterplan: MasterPlan) -> dict[str, Any]:
    """The release gate of a plan: passed, or blocked with the reason."""
    return {"masterplan": masterplan, "gate": gate_status(masterplan.pk)}
