"""The periodic rules: the next limit from the measured signals (the seed's table)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LOW_BUDGET_PCT = 20
CUT_KINDS = frozenset({"budget", "llm_latency", "db_latency"})


@dataclass(frozen=True)
class Adjustment:
    limit: int
    reason: str
    kind: str = "healthy"
    """A short label for metrics: budget, llm_latency, db_latency, idle, healthy, ceiling,
    skipped (the rules'); rate_limit, probe, manual are the other moves of the limit."""


def next_limit(
    current: int,
    *,
    minimum: int,
    maximum: int,
    in_flight: int,
    llm_p95_ms: float | None,
    db_p95_ms: float | None,
    budget_remaining_pct: float | None,
    llm_p95_target_ms: int,
    db_p95_target_ms: int,
    ceiling: int | None = None,
) -> Adjustment:
    """The seed's rules: LLM p95 > 2 s → −10 %; DB p95 > 100 ms → −10 %; budget left <
    20 % → −50 %; all healthy → +5 % (the latency targets come from the settings). The
    strongest cut wins when several apply; growth is at least one slot, and none while
    fewer than half the slots are in use (AIMD's guard: an idle system must not drift up
    to the maximum), nor up to `ceiling`, the limit in force when the provider last
    refused, during the period after it (it is not all healthy)."""
    cuts = []
    if budget_remaining_pct is not None and budget_remaining_pct < LOW_BUDGET_PCT:
        cuts.append(
            (0.5, "budget", f"budget remaining {budget_remaining_pct:.0f}% < {LOW_BUDGET_PCT}%")
        )
    if llm_p95_ms is not None and llm_p95_ms > llm_p95_target_ms:
        cuts.append((0.9, "llm_latency", f"LLM p95 {llm_p95_ms:.0f} ms > {llm_p95_target_ms} ms"))
    if db_p95_ms is not None and db_p95_ms > db_p95_target_ms:
        cuts.append((0.9, "db_latency", f"DB p95 {db_p95_ms:.0f} ms > {db_p95_target_ms} ms"))
    if cuts:
        factor, kind, _ = min(cuts, key=lambda cut: cut[0])  # the strongest, first on ties
        reason = "; ".join(reason for _, _, reason in cuts)
        return Adjustment(max(minimum, math.floor(current * factor)), reason, kind)
    if in_flight < current / 2:
        return Adjustment(current, f"idle ({in_flight} of {current} in use): no growth", "idle")
    grown = min(maximum, max(current + 1, math.floor(current * 1.05)))
    if ceiling is not None and grown >= ceiling:
        reason = f"the provider refused at {ceiling} during the last period: held below it"
        return Adjustment(max(current, ceiling - 1), reason, "ceiling")
    return Adjustment(grown, "healthy")


def percentile(samples: Sequence[float], share: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]
