"""How far a masterplan has come: counts per wave and status, spend, tokens, ETA."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from execution.models import Atom, MasterPlan, Wave
from execution.runtime.spend import spent_expression
from mge_site.prepared import PreparedValues

_PLAN = PreparedValues(
    # The spend as `MasterPlan.objects.with_spent()` annotates it.
    lambda pk: MasterPlan.objects.filter(pk=pk).values(
        "id",
        "name",
        "status",
        "status_reason",
        "started_at",
        "finished_at",
        cost_total_usd=spent_expression(),
    ),
    uuid.UUID,
)
_COUNTS = PreparedValues(
    lambda pk: (
        Atom.objects.filter(masterplan_id=pk)
        .values("wave_id", "status")
        .annotate(
            n=Count("pk"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            seconds=Sum("execution_time_seconds"),
            timed=Count("execution_time_seconds"),
        )
        .order_by()
    ),
    uuid.UUID,
)
_WAVES = PreparedValues(
    lambda pk: (
        Wave.objects.filter(masterplan_id=pk)
        .order_by("number")
        .values("id", "number", "status", "atom_count")
    ),
    uuid.UUID,
)


def masterplan_with_spent(masterplan_id: uuid.UUID) -> MasterPlan | None:
    """The plan as `masterplan_progress` reads it (its spend from the ledger, the rest of
    its fields deferred), or None."""
    return _PLAN.instance(MasterPlan, masterplan_id)


def masterplan_progress(masterplan: MasterPlan) -> dict[str, Any]:
    """`masterplan` from `MasterPlan.objects.with_spent()` (or `masterplan_with_spent`).
    Two queries, prepared (a polled endpoint: mge_site.prepared): the atoms' counts and
    sums per wave and status (one pass over the plan's atoms), and the waves."""
    rows = _COUNTS.rows(masterplan.pk)
    waves = _WAVES.rows(masterplan.pk)
    number_of = {wave["id"]: wave["number"] for wave in waves}
    by_wave: dict[int | None, dict[str, int]] = {}
    by_status = dict.fromkeys(Atom.Status.values, 0)
    input_tokens = output_tokens = timed = 0
    seconds = 0.0
    for row in rows:
        counts = by_wave.setdefault(
            number_of.get(row["wave_id"]), dict.fromkeys(Atom.Status.values, 0)
        )
        counts[row["status"]] = row["n"]
        by_status[row["status"]] += row["n"]
        input_tokens += row["input_tokens"] or 0
        output_tokens += row["output_tokens"] or 0
        seconds += row["seconds"] or 0.0
        timed += row["timed"]
    wave_rows = [
        {
            "number": wave["number"],
            "status": wave["status"],
            "atoms": wave["atom_count"],
            "by_status": by_wave.get(wave["number"], {}),
        }
        for wave in waves
    ]
    elapsed = None
    if masterplan.started_at:
        end = masterplan.finished_at or timezone.now()
        elapsed = round((end - masterplan.started_at).total_seconds(), 1)
    spent: Decimal = masterplan.cost_total_usd or Decimal(0)  # type: ignore[attr-defined]
    return {
        "masterplan_id": str(masterplan.pk),
        "status": masterplan.status,
        "status_reason": masterplan.status_reason,
        "atoms_total": sum(by_status.values()),
        "by_status": by_status,
        "waves": wave_rows,
        "cost_usd": str(spent.quantize(Decimal("0.000001"))),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "elapsed_seconds": elapsed,
        "eta_seconds": _eta_seconds(masterplan, wave_rows, seconds / timed if timed else None),
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
