"""The only writer of traces: `start_trace`, `log_event`, `finish_trace`.

A trace's events are kept in memory and written in bulk, through the caller's database
lane (`run_db`): at the end, with the trace's totals, in one transaction of two
statements (and every MGE_TRACE_FLUSH_EVENTS events, for a long one). Nothing is written
while the atom runs: a worker killed meanwhile writes nothing, and the lease sweep gives
its atom the trace of that execution (`abandon`). A trace that cannot be written is
logged and counted (`v2_tracing_errors_total`); the work it describes goes on
(execution.events drops a recorder's failure).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Sum

from execution.events import Scope
from execution.models import Atom
from mge_site.redis_connection import get_redis
from tracing import sql
from tracing.models import AtomExecutionTrace, TraceEvent
from tracing.sql import PendingEvent, TraceRow

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


def count_error(traces: int = 1) -> None:
    """Traces that could not be written (read by the metrics collector)."""
    try:
        get_redis().incrby(ERRORS_KEY, traces)
    except Exception:
        logger.exception("could not count a tracing error")


def errors_counted() -> int:
    return int(get_redis().get(ERRORS_KEY) or 0)


class TraceRecorder:
    """One execution's trace on its way to the database (execution.events.Recorder)."""

    def __init__(self, scope: Scope, run_db: Callable[..., Any]) -> None:
        self.scope = scope
        self.run_db = run_db
        self.trace = TraceRow(
            id=uuid.uuid4(),
            masterplan_id=scope.masterplan_id,
            scope=scope.kind,
            atom_id=scope.atom_id,
            wave_id=scope.wave_id,
            requirement_id=scope.requirement_id,
            started_at=dt.datetime.now(dt.UTC),
        )
        self._started = time.perf_counter()
        self._flush_every = settings.MGE_TRACE_FLUSH_EVENTS  # read once: settings are slow
        self._seq = 0
        self._began = False
        """The work started (the `started` event): only then is there a trace to keep."""
        self._pending: list[PendingEvent] = []
        self._written = False
        self._charged = Decimal(0)
        self._priced = Decimal(0)

    # --- execution.events.Recorder ---------------------------------------------------------

    def event(self, kind: str, data: dict[str, Any]) -> None:
        log_event(self, kind, data)

    def end(self, status: str, data: dict[str, Any]) -> None:
        finish_trace(self, status, data)

    # --- what the events add up to -------------------------------------------------------

    def _take(self, kind: str, data: dict[str, Any], offset_ms: float) -> None:
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
        elif kind == "started":
            self._began = True
        elif kind == "context_built":
            trace.context_completeness_score = data.get("score")
            trace.context_injected_at = trace.started_at + dt.timedelta(milliseconds=offset_ms)


def start_trace(scope: Scope, run_db: Callable[..., Any]) -> TraceRecorder | None:
    """A recorder for one execution (None when tracing is off). Nothing is written before
    it ends (or holds MGE_TRACE_FLUSH_EVENTS events)."""
    if not settings.MGE_TRACING:
        return None
    return TraceRecorder(scope, run_db)


def log_event(recorder: TraceRecorder, kind: str, data: dict[str, Any]) -> None:
    """Add an event (`duration_ms` in `data` is kept as the event's duration)."""
    offset_ms = round((time.perf_counter() - recorder._started) * 1000, 3)
    data = dict(data)
    duration = data.pop("duration_ms", None)
    recorder._seq += 1
    recorder._pending.append(
        PendingEvent(
            recorder._seq, kind, offset_ms, None if duration is None else round(duration, 3), data
        )
    )
    recorder._take(kind, data, offset_ms)
    if len(recorder._pending) >= recorder._flush_every:
        _flush(recorder)


def finish_trace(recorder: TraceRecorder, status: str, data: dict[str, Any]) -> None:
    """Write the outcome, the totals and the events not written yet. An execution that
    never started (its atom was claimed elsewhere, or the wait for a slot failed) leaves
    no trace: it was no execution of the atom."""
    if not recorder._written and not recorder._began:
        return
    trace = recorder.trace
    trace.status = TERMINAL.get(status, AtomExecutionTrace.Status.FAILED)
    trace.error = str(data.get("error") or "")
    trace.execution_time_seconds = round(time.perf_counter() - recorder._started, 6)
    trace.finished_at = trace.started_at + dt.timedelta(seconds=trace.execution_time_seconds)
    # The ledger's figure when the budget settled the calls (it is what was charged),
    # else what the calls were priced at.
    trace.cost_usd = recorder._charged or recorder._priced
    log_event(recorder, status, {key: value for key, value in data.items() if value})
    _flush(recorder, final=True)


def _flush(recorder: TraceRecorder, final: bool = False) -> None:
    events, recorder._pending = recorder._pending, []
    lane = getattr(recorder.run_db, "__self__", None)
    if final and not recorder._written and lane is not None:
        _batches.add(lane, recorder.run_db, recorder.trace, events)
        return
    # A failure propagates to execution.events, which logs it, counts it (count_error)
    # and lets the work go on; the events of this write are lost, the next write retries.
    recorder.run_db(_write, recorder.trace, not recorder._written, events, final)
    recorder._written = True


Ended = tuple[TraceRow, list[PendingEvent]]


class _Batches:
    """Ended executions of a database lane's atoms, written together: two statements for
    up to BATCH_SIZE traces instead of two each (the handoff to the lane, the statements'
    overhead and the commit were most of tracing's CPU per atom). A batch is written when
    it is full, when a trace comes BATCH_SECONDS or more after its first, and when the
    wave job ends (execution.events.flush, before the lane closes). A worker killed
    meanwhile loses the batch it held (at most BATCH_SIZE − 1 traces)."""

    BATCH_SIZE = 50
    BATCH_SECONDS = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[Callable[..., Any], list[Ended], float]] = {}

    def add(
        self, lane: object, run_db: Callable[..., Any], trace: TraceRow,
        events: list[PendingEvent],
    ) -> None:  # fmt: skip
        now = time.monotonic()
        with self._lock:
            _, items, since = self._pending.setdefault(id(lane), (run_db, [], now))
            items.append((trace, events))
            full = len(items) >= self.BATCH_SIZE or now - since >= self.BATCH_SECONDS
            if full:
                del self._pending[id(lane)]
        if full:
            _write_batch(run_db, items)

    def flush(self, lane: object) -> None:
        with self._lock:
            pending = self._pending.pop(id(lane), None)
        if pending is not None:
            run_db, items, _ = pending
            _write_batch(run_db, items)


_batches = _Batches()


def flush(lane: object) -> None:
    """Write the lane's ended executions not written yet (before it closes: another
    job's flush must not write them through a lane that is closing)."""
    _batches.flush(lane)


def _write_batch(run_db: Callable[..., Any], items: list[Ended]) -> None:
    try:
        run_db(_write_ended, items)
    except Exception:
        logger.exception("%d traces could not be written; their atoms went on", len(items))
        count_error(len(items))


def _write_ended(items: list[Ended]) -> None:
    with transaction.atomic():
        sql.insert_traces([trace for trace, _ in items])
        sql.insert_events_of(items)


def _write(trace: TraceRow, create: bool, events: list[PendingEvent], final: bool) -> None:
    with transaction.atomic():
        if create:
            sql.insert_traces([trace])
        elif final:
            sql.finish_trace(trace)
        sql.insert_events(trace, events)


def abandon(atom_ids: list[str]) -> int:
    """Atoms whose worker died: each gets a trace of that execution, ended `abandoned`
    (what the dead worker had not written is lost with it), costing what the budget
    charged for its calls in flight. Called inside the lease sweep's transaction, after
    the budget has settled those calls (its receiver was connected first)."""
    from budget.models import CostEntry

    if not settings.MGE_TRACING:
        return 0
    now = dt.datetime.now(dt.UTC)
    note = "its worker stopped: the atom's lease lapsed"
    atoms = list(Atom.objects.filter(pk__in=atom_ids))
    # The estimates the sweep just charged: this execution's, since its claim.
    charged = dict(
        CostEntry.objects.filter(
            atom__in=atoms, kind=CostEntry.Kind.ESTIMATED, created_at__gte=F("atom__started_at")
        )
        .values("atom")
        .annotate(total=Sum("cost_usd"))
        .values_list("atom", "total")
    )
    # A long execution wrote its row already (every MGE_TRACE_FLUSH_EVENTS events).
    written = {
        trace.atom_id: trace
        for trace in AtomExecutionTrace.objects.filter(
            atom__in=atoms, status=AtomExecutionTrace.Status.RUNNING
        ).annotate(last_seq=Max("events__seq"))
    }
    new: list[TraceRow] = []
    closing: list[tuple[sql.Row, list[PendingEvent]]] = []
    for atom in atoms:
        trace: sql.Row = written.get(atom.pk) or TraceRow(
            id=uuid.uuid4(), masterplan_id=str(atom.masterplan_id), scope="atom",
            atom_id=str(atom.pk), wave_id=str(atom.wave_id), requirement_id=None,
            started_at=atom.started_at or now,
        )  # fmt: skip
        trace.status = AtomExecutionTrace.Status.ABANDONED
        trace.error = note
        trace.cost_usd = charged.get(atom.pk, Decimal(0))
        trace.execution_time_seconds = (now - trace.started_at).total_seconds()
        trace.finished_at = now
        if isinstance(trace, TraceRow):
            new.append(trace)
        else:
            sql.finish_trace(trace)
        seq = getattr(trace, "last_seq", None) or 0
        offset = round(trace.execution_time_seconds * 1000, 3)
        closing.append((trace, [PendingEvent(seq + 1, "abandoned", offset, None, {"error": note})]))
    sql.insert_traces(new)
    sql.insert_events_of(closing)
    return len(atoms)


def clip(text: str) -> str:
    """A text kept in an event (a prompt, an answer), cut at MGE_TRACE_TEXT_MAX_CHARS."""
    limit = settings.MGE_TRACE_TEXT_MAX_CHARS
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit} more characters not kept]"


def prunable(older_than: dt.timedelta) -> int:
    return AtomExecutionTrace.objects.filter(started_at__lt=_cutoff(older_than)).count()


def prune(older_than: dt.timedelta, batch: int = 1000) -> int:
    """Delete traces (and their events) that started before now − `older_than`, a batch
    per transaction: one statement over months of events would hold its locks for long."""
    cutoff = _cutoff(older_than)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                AtomExecutionTrace.objects.filter(started_at__lt=cutoff).values_list(
                    "pk", flat=True
                )[:batch]
            )
            if not ids:
                return deleted
            TraceEvent.objects.filter(trace_id__in=ids).delete()
            deleted += (
                AtomExecutionTrace.objects.filter(pk__in=ids)
                .delete()[1]
                .get(AtomExecutionTrace._meta.label, 0)
            )


def _cutoff(older_than: dt.timedelta) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - older_than
