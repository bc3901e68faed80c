"""Traces as the API and the pages show them: an atom's executions with their ordered
events, the L1–L4 checks that concern it, and a plan's summary per atom."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, OuterRef, QuerySet, Subquery, Sum

from execution.models import Atom, MasterPlan
from precision.models import ValidationCheck
from tracing.models import AtomExecutionTrace, TraceEvent


class NoSuchExecution(LookupError):
    pass


@dataclass(frozen=True)
class AtomTrace:
    atom: Atom
    executions: list[int]
    trace: AtomExecutionTrace | None
    events: list[TraceEvent]
    checks: list[ValidationCheck]


def atom_trace(atom: Atom, execution: int | None = None) -> AtomTrace:
    """The latest execution's trace (or execution `execution`), in a constant number of
    queries whatever the number of attempts and events."""
    executions = list(
        AtomExecutionTrace.objects.filter(atom=atom)
        .order_by("execution")
        .values_list("execution", flat=True)
    )
    if execution is not None and execution not in executions:
        have = (
            f"its executions are {', '.join(map(str, executions))}"
            if executions
            else ("it has not run yet")
        )
        raise NoSuchExecution(f"atom {atom.pk} has no execution {execution}: {have}")
    trace = None
    events: list[TraceEvent] = []
    if executions:
        trace = AtomExecutionTrace.objects.get(atom=atom, execution=execution or executions[-1])
        events = list(trace.events.order_by("seq"))
    checks = _latest_checks(atom)
    return AtomTrace(atom, executions, trace, events, checks)


def _latest_checks(atom: Atom) -> list[ValidationCheck]:
    """The latest validation's check of each kind for the atom (its L1–L4 references)."""
    latest: dict[tuple[int, str], ValidationCheck] = {}
    for check in (
        ValidationCheck.objects.filter(atom=atom).select_related("run").order_by("-run__created_at")
    ):
        latest.setdefault((check.level, check.category), check)
    return sorted(latest.values(), key=lambda check: (check.level, check.category))


BUCKETS = (
    "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
)  # fmt: skip


def cost_by_bucket(trace: AtomExecutionTrace) -> dict[str, Any]:
    """The tokens of each price bucket the execution's calls were billed, and the cost:
    the totals its trace keeps (the sums of its LLM calls; the ledger's charge)."""
    return {**{name: getattr(trace, name) for name in BUCKETS}, "cost_usd": trace.cost_usd}


def plan_summary(masterplan: MasterPlan) -> QuerySet[Atom]:
    """One row per atom: its executions and their totals, the latest one's status."""
    latest = AtomExecutionTrace.objects.filter(atom=OuterRef("pk")).order_by("-execution")
    return (
        Atom.objects.filter(masterplan=masterplan)
        .annotate(
            executions=Count("traces"),
            trace_retries=Sum("traces__total_retries", default=0),
            trace_cost_usd=Sum("traces__cost_usd", default=Decimal(0)),
            trace_llm_calls=Sum("traces__llm_calls", default=0),
            trace_cache_hits=Sum("traces__cache_hits", default=0),
            trace_seconds=Sum("traces__execution_time_seconds"),
            last_traced_at=Max("traces__started_at"),
            trace_status=Subquery(latest.values("status")[:1]),
            traced_context_score=Subquery(latest.values("context_completeness_score")[:1]),
        )
        .select_related("wave")
        .order_by("wave__number", "source_line")
    )


def parse_atom_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
