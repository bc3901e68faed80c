"""A trace's writes as SQL statements: every atom execution makes three (the row, its
events, its totals), and the ORM's save and bulk_create machinery cost more CPU than the
statements themselves (benchmarks/README.md, tracing_cpu_overhead_ratio)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Max

from tracing.models import AtomExecutionTrace, TraceEvent

_TRACES = AtomExecutionTrace._meta.db_table
_EVENTS = TraceEvent._meta.db_table


class _Adapt:
    """Values as the database takes them, resolved once per write: the fields'
    get_db_prep_value reach the connection through Django's thread-local proxy on every
    call, a third of a trace's CPU when done per value."""

    def __init__(self) -> None:
        self.db = connections[DEFAULT_DB_ALIAS]
        self._native_uuid = self.db.features.has_native_uuid_field
        self.time = self.db.ops.adapt_datetimefield_value

    def uuid(self, value: uuid.UUID | str | None) -> Any:
        if value is None:
            return None
        if self._native_uuid:
            return str(value)  # quoted in C; psycopg2's UUID adapter is Python
        return (value if isinstance(value, uuid.UUID) else uuid.UUID(value)).hex


_FINISH_TRACE = f"""
UPDATE {_TRACES}
SET status = %s, error = %s, context_completeness_score = %s, context_injected_at = %s,
    total_retries = %s, llm_calls = %s, cache_hits = %s, input_tokens = %s,
    output_tokens = %s, cache_creation_input_tokens = %s, cache_read_input_tokens = %s,
    cost_usd = %s, cost_saved_usd = %s, execution_time_seconds = %s, finished_at = %s
WHERE id = %s
"""


def _outcome(trace: Row, adapt: _Adapt) -> list[Any]:
    """The columns an execution's end sets, in _FINISH_TRACE's order (and the INSERT's)."""
    return [
        trace.status, trace.error, trace.context_completeness_score,
        adapt.time(trace.context_injected_at), trace.total_retries, trace.llm_calls,
        trace.cache_hits, trace.input_tokens, trace.output_tokens,
        trace.cache_creation_input_tokens, trace.cache_read_input_tokens, trace.cost_usd,
        trace.cost_saved_usd, trace.execution_time_seconds, adapt.time(trace.finished_at),
    ]  # fmt: skip


def _subject(trace: Row) -> tuple[str, str]:
    """What a trace numbers its executions by: its atom, or its requirement. By text: a
    recorder's ids came as text through the executions' scopes."""
    if trace.scope == AtomExecutionTrace.Scope.ATOM:
        return ("atom", str(trace.atom_id))
    return ("requirement", str(trace.requirement_id))


def _latest_executions(traces: Sequence[Row]) -> dict[tuple[str, str], int]:
    latest: dict[tuple[str, str], int] = {}
    for field in ("atom", "requirement"):
        ids = {subject for kind, subject in map(_subject, traces) if kind == field}
        if not ids:
            continue
        rows = (
            AtomExecutionTrace.objects.filter(**{f"{field}_id__in": ids})
            .values(f"{field}_id")
            .annotate(latest=Max("execution"))
            .values_list(f"{field}_id", "latest")
        )
        latest.update({(field, str(subject)): number for subject, number in rows})
    return latest


_EVENT_COLUMNS = "(id, trace_id, seq, kind, at, offset_ms, duration_ms, data)"
_EVENT_VALUES = "(%s, %s, %s, %s, %s, %s, %s, %s)"


@dataclass(slots=True)
class TraceRow:
    """An execution's row while its recorder fills it: a Django model instance cost a
    sixth of tracing's CPU per atom to build (its 23 fields' defaults and descriptors)."""

    id: uuid.UUID
    masterplan_id: str
    scope: str
    atom_id: str | None
    wave_id: str | None
    requirement_id: str | None
    started_at: dt.datetime
    execution: int = 1
    status: str = "running"
    error: str = ""
    context_completeness_score: float | None = None
    context_injected_at: dt.datetime | None = None
    total_retries: int = 0
    llm_calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    cost_saved_usd: Decimal = Decimal(0)
    execution_time_seconds: float | None = None
    finished_at: dt.datetime | None = None

    @property
    def pk(self) -> uuid.UUID:
        return self.id


Row = TraceRow | AtomExecutionTrace
"""What the statements write: a recorder's row, or a model instance (the lease sweep's)."""


class PendingEvent(NamedTuple):
    seq: int
    kind: str
    offset_ms: float
    duration_ms: float | None
    data: dict[str, Any]


_INSERT_TRACES = f"""
INSERT INTO {_TRACES} (
    id, masterplan_id, scope, atom_id, wave_id, requirement_id, started_at, execution,
    status, error, context_completeness_score, context_injected_at, total_retries, llm_calls,
    cache_hits, input_tokens, output_tokens, cache_creation_input_tokens,
    cache_read_input_tokens, cost_usd, cost_saved_usd, execution_time_seconds, finished_at
) VALUES
"""
_TRACE_VALUES = "(" + ", ".join(["%s"] * 23) + ")"

ROWS_PER_STATEMENT = 1000
"""Well under the parameters a statement may have (SQLite: 32,766; PostgreSQL: 65,535)."""


def insert_traces(traces: Sequence[Row]) -> None:
    """Traces as they stand, many in one INSERT, each numbered after its atom's (or
    requirement's) latest execution: one query for all, and no race — an atom runs one
    execution at a time (its claim), and the unique (atom, execution) refuses a second."""
    if not traces:
        return
    adapt = _Adapt()
    latest = _latest_executions(traces)
    values: list[Any] = []
    for trace in traces:
        trace.execution = latest.get(_subject(trace), 0) + 1
        values += [
            adapt.uuid(trace.pk), adapt.uuid(trace.masterplan_id), trace.scope,
            adapt.uuid(trace.atom_id), adapt.uuid(trace.wave_id),
            adapt.uuid(trace.requirement_id), adapt.time(trace.started_at), trace.execution,
            *_outcome(trace, adapt),
        ]  # fmt: skip
    rows = ", ".join([_TRACE_VALUES] * len(traces))
    with adapt.db.cursor() as cursor:
        cursor.execute(_INSERT_TRACES + rows, values)


def finish_trace(trace: Row) -> None:
    adapt = _Adapt()
    with adapt.db.cursor() as cursor:
        cursor.execute(_FINISH_TRACE, [*_outcome(trace, adapt), adapt.uuid(trace.pk)])


def insert_events(trace: Row, events: Sequence[PendingEvent]) -> None:
    insert_events_of([(trace, events)])


def insert_events_of(
    traces: Sequence[tuple[Row, Sequence[PendingEvent]]],
) -> None:
    """Multi-row INSERTs; an event's `at` is its trace's start plus its offset (one clock:
    the order of `at` is the order of `seq`)."""
    adapt = _Adapt()
    rows: list[list[Any]] = []
    for trace, events in traces:
        trace_id, started = adapt.uuid(trace.pk), trace.started_at
        rows += [
            [adapt.uuid(uuid.uuid4()), trace_id, event.seq, event.kind,
             adapt.time(started + dt.timedelta(milliseconds=event.offset_ms)),
             event.offset_ms, event.duration_ms,
             json.dumps(event.data, ensure_ascii=False, default=str)]
            for event in events
        ]  # fmt: skip
    with adapt.db.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(
                f"INSERT INTO {_EVENTS} {_EVENT_COLUMNS} VALUES "
                + ", ".join([_EVENT_VALUES] * len(chunk)),
                [value for row in chunk for value in row],
            )
