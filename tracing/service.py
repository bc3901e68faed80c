"""The only writer of traces: `start_trace`, `log_event`, `finish_trace`.

A trace's events are kept in memory and written in bulk, through the caller's database
lane (`run_db`): when the work really starts (the `started` event: the atom is claimed, so
a worker killed after it leaves its trace behind), every MGE_TRACE_FLUSH_EVENTS events,
and at the end with the trace's totals — a few statements per execution, not one per
event. A trace that cannot be written is logged and counted (`v2_tracing_errors_total`);
the work it describes goes on (execution.events drops a recorder's failure).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from execution.events import Scope
from mge_site.redis_connection import get_redis
from tracing.models import AtomExecutionTrace, TraceEvent

logger = logging.getLogger(__name__)

ERRORS_KEY = "mge:tracing:errors"

TERMINAL = {
    "completed": AtomExecutionTrace.Status.COMPLETED,
    "requires_review": AtomExecutionTrace.Status.REQUIRES_REVIEW,
    "failed": AtomExecutionTrace.Status.FAILED,
    "blocked": AtomExecutionTrace.Status.BLOCKED,
    "released": AtomExecutionTrace.Status.RELEASED,
    "waiting": AtomExecutionTrace.Status.WAITING,
    "abandoned": AtomExecutionTrace.Status.ABANDONED,
}
"""The outcomes an execution ends with, and the trace status each is kept as."""

_RETRIES = frozenset({"retry", "provider_retry"})


def count_error() -> None:
    """One more trace that could not be written (read by the metrics collector)."""
    try:
        get_redis().incr(ERRORS_KEY)
    except Exception:
        logger.exception("could not count a tracing error")


def errors_counted() -> int:
    return int(get_redis().get(ERRORS_KEY) or 0)


class TraceRecorder:
    """One execution's trace on its way to the database (execution.events.Recorder)."""

    def __init__(self, scope: Scope, run_db: Callable[..., Any]) -> None:
        self.scope = scope
        self.run_db = run_db
        self.trace = AtomExecutionTrace(
            masterplan_id=scope.masterplan_id,
            scope=scope.kind,
            atom_id=scope.atom_id,
            wave_id=scope.wave_id,
            requirement_id=scope.requirement_id,
            started_at=dt.datetime.now(dt.UTC),
        )
        self._started = time.perf_counter()
        self._seq = 0
        self._pending: list[TraceEvent] = []
        self._written = False
        self._charged = Decimal(0)
        self._priced = Decimal(0)

    # --- execution.events.Recorder ---------------------------------------------------------

    def event(self, kind: str, data: dict[str, Any]) -> None:
        log_event(self, kind, data)

    def end(self, status: str, data: dict[str, Any]) -> None:
        finish_trace(self, status, data)

    # --- what the events add up to -------------------------------------------------------

    def _take(self, kind: str, data: dict[str, Any], at: dt.datetime) -> None:
        trace = self.trace
        if kind == "llm_call":
            trace.llm_calls += 1
            if data.get("cache_hit"):
                trace.cache_hits += 1
            else:
                trace.input_tokens += data.get("input_tokens", 0)
                trace.output_tokens += data.get("output_tokens", 0)
                trace.cache_creation_input_tokens += data.get("cache_creation_input_tokens", 0)
                trace.cache_read_input_tokens += data.get("cache_read_input_tokens", 0)
                self._priced += Decimal(data.get("cost_usd") or "0")
        elif kind == "cache_hit":
            trace.cost_saved_usd += Decimal(data.get("saved_usd", "0"))
        elif kind == "budget_settled":
            self._charged += Decimal(data["charged_usd"])
        elif kind in _RETRIES:
            trace.total_retries += 1
        elif kind == "context_built":
            trace.context_completeness_score = data.get("score")
            trace.context_injected_at = at


def start_trace(scope: Scope, run_db: Callable[..., Any]) -> TraceRecorder | None:
    """A recorder for one execution (None when tracing is off). Nothing is written until
    its `started` event."""
    if not settings.MGE_TRACING:
        return None
    return TraceRecorder(scope, run_db)


def log_event(recorder: TraceRecorder, kind: str, data: dict[str, Any]) -> None:
    """Add an event (`duration_ms` in `data` is kept as the event's duration)."""
    now = time.perf_counter()
    at = dt.datetime.now(dt.UTC)
    data = dict(data)
    duration = data.pop("duration_ms", None)
    recorder._seq += 1
    recorder._pending.append(
        TraceEvent(
            trace=recorder.trace,
            seq=recorder._seq,
            kind=kind,
            at=at,
            offset_ms=round((now - recorder._started) * 1000, 3),
            duration_ms=None if duration is None else round(float(duration), 3),
            data=data,
        )
    )
    recorder._take(kind, data, at)
    if kind == "started" or len(recorder._pending) >= settings.MGE_TRACE_FLUSH_EVENTS:
        _flush(recorder)


def finish_trace(recorder: TraceRecorder, status: str, data: dict[str, Any]) -> None:
    """Write the outcome, the totals and the events not written yet. An execution that
    never started (its atom was claimed elsewhere) leaves no trace."""
    if not recorder._written and status == "skipped":
        return
    trace = recorder.trace
    trace.status = TERMINAL.get(status, AtomExecutionTrace.Status.FAILED)
    trace.error = str(data.get("error") or "")
    trace.finished_at = dt.datetime.now(dt.UTC)
    trace.execution_time_seconds = round(time.perf_counter() - recorder._started, 6)
    # The ledger's figure when the budget settled the calls (it is what was charged),
    # else what the calls were priced at.
    trace.cost_usd = recorder._charged or recorder._priced
    log_event(recorder, status, {key: value for key, value in data.items() if value})
    _flush(recorder, final=True)


def _flush(recorder: TraceRecorder, final: bool = False) -> None:
    events, recorder._pending = recorder._pending, []
    # A failure propagates to execution.events, which logs it, counts it (count_error)
    # and lets the work go on; the events of this write are lost, the next write retries.
    recorder.run_db(_write, recorder.trace, not recorder._written, events, final)
    recorder._written = True


def _write(trace: AtomExecutionTrace, create: bool, events: list[TraceEvent], final: bool) -> None:
    with transaction.atomic():
        if create:
            if trace.atom_id is not None:
                # One execution of an atom at a time (its claim), so MAX + 1 does not race.
                latest = AtomExecutionTrace.objects.filter(atom_id=trace.atom_id).aggregate(
                    n=Max("execution")
                )["n"]
                trace.execution = (latest or 0) + 1
            trace.save(force_insert=True)
        elif final:
            trace.save(force_update=True)
        if events:
            TraceEvent.objects.bulk_create(events)


def abandon(atom_ids: list[str]) -> int:
    """The open traces of atoms whose worker died: ended `abandoned` (their events up to
    the last write are kept). Called inside the lease sweep's transaction."""
    now = dt.datetime.now(dt.UTC)
    open_traces = list(
        AtomExecutionTrace.objects.filter(
            atom_id__in=atom_ids, status=AtomExecutionTrace.Status.RUNNING
        )
    )
    events = []
    for trace in open_traces:
        last = trace.events.order_by("-seq").values_list("seq", flat=True).first() or 0
        events.append(
            TraceEvent(
                id=uuid.uuid4(),
                trace=trace,
                seq=last + 1,
                kind="abandoned",
                at=now,
                offset_ms=round((now - trace.started_at).total_seconds() * 1000, 3),
                data={"error": "its worker stopped: the atom's lease lapsed"},
            )
        )
        trace.status = AtomExecutionTrace.Status.ABANDONED
        trace.error = "its worker stopped: the atom's lease lapsed"
        trace.finished_at = now
        trace.execution_time_seconds = (now - trace.started_at).total_seconds()
    AtomExecutionTrace.objects.bulk_update(
        open_traces, ["status", "error", "finished_at", "execution_time_seconds"]
    )
    TraceEvent.objects.bulk_create(events)
    return len(open_traces)


def clip(text: str) -> str:
    """A text kept in an event (a prompt, an answer), cut at MGE_TRACE_TEXT_MAX_CHARS."""
    limit = settings.MGE_TRACE_TEXT_MAX_CHARS
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit} more characters not kept]"


def prune(older_than: dt.timedelta) -> int:
    """Delete traces (and their events) that started before now − `older_than`."""
    cutoff = dt.datetime.now(dt.UTC) - older_than
    deleted, by_model = AtomExecutionTrace.objects.filter(started_at__lt=cutoff).delete()
    return by_model.get(AtomExecutionTrace._meta.label, 0)
