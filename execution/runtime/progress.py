"""How far a masterplan has come: counts per wave and status, spend, tokens, ETA."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Sum
from django.utils import timezone

from execution.models import Atom, MasterPlan
from execution.runtime.spend import spent_expression


def masterplan_progress(masterplan: MasterPlan) -> dict[str, Any]:
    rows = masterplan.atoms.values("wave__number", "status").annotate(n=Count("pk"))
    by_wave: dict[int, dict[str, int]] = {}
    by_status = dict.fromkeys(Atom.Status.values, 0)
    for row in rows:
        by_wave.setdefault(row["wave__number"], dict.fromkeys(Atom.Status.values, 0))
        by_wave[row["wave__number"]][row["status"]] = row["n"]
        by_status[row["status"]] += row["n"]
    spent = (
        MasterPlan.objects.filter(pk=masterplan.pk)
        .annotate(spent=spent_expression())
        .values_list("spent", flat=True)
        .get()
    )
    totals = masterplan.atoms.aggregate(
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        average_seconds=Avg("execution_time_seconds", filter=None),
    )
    waves = [
        {
            "number": wave.number,
            "status": wave.status,
            "atoms": wave.atom_count,
            "by_status": by_wave.get(wave.number, {}),
        }
        for wave in masterplan.waves.order_by("number")
    ]
    elapsed = None
    if masterplan.started_at:
        end = masterplan.finished_at or timezone.now()
        elapsed = round((end - masterplan.started_at).total_seconds(), 1)
    return {
        "masterplan_id": str(masterplan.pk),
        "status": masterplan.status,
        "status_reason": masterplan.status_reason,
        "atoms_total": sum(by_status.values()),
        "by_status": by_status,
        "waves": waves,
        "cost_usd": str((spent or Decimal(0)).quantize(Decimal("0.000001"))),
        "input_tokens": totals["input_tokens"] or 0,
        "output_tokens": totals["output_tokens"] or 0,
        "elapsed_seconds": elapsed,
        "eta_seconds": _eta_seconds(masterplan, waves, totals["average_seconds"]),
    }


def _eta_seconds(
    masterplan: MasterPlan, waves: list[dict[str, Any]], average_seconds: float | None
) -> float | None:
    """Remaining waves × ceil(atoms left / limit) × the average atom time so far."""
    if masterplan.status != MasterPlan.Status.RUNNING or not average_seconds:
        return None
    rounds = 0
    for wave in waves:
        left = sum(wave["by_status"].get(status, 0) for status in ("pending", "ready", "running"))
        rounds += math.ceil(left / settings.MGE_CONCURRENCY_INITIAL)
    return round(rounds * average_seconds, 1)
