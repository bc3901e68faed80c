"""OpenTelemetry export of traces (on when OTEL_EXPORTER_OTLP_ENDPOINT is set; tracing.apps).

A span per masterplan run, wave, atom execution and LLM call, sent over OTLP/HTTP by the
SDK's batch processor, so that a trace opens in any OTLP backend (Jaeger, Tempo,
Langfuse, Phoenix). The LLM spans follow the GenAI semantic conventions (`chat <model>`,
`gen_ai.*`); what only MGE knows is under `mge.*`.

A plan runs over many RQ jobs in several worker processes, and no span context travels
between them: the ids are derived from the rows instead. The trace id is the masterplan's
UUID; the masterplan span and each wave span have 64 bits of their own UUID as span id
(`span_id_of`). An atom span, started in whichever process runs the atom, names its wave's
span as parent before that span exists; the wave and masterplan spans are made when they
end (the lifecycle's `wave_finished` and `masterplan_finished`), with their rows' start
and end times and those ids. LLM-call spans are children of their atom span.

An export that fails never fails work: the batch processor exports in its own thread
and logs what it could not send.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.conf import settings
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from execution import events
from execution.models import MasterPlan, Wave
from execution.runtime.spend import spent_expression
from execution.signals import masterplan_finished, wave_finished

DEFAULT_SERVICE_NAME = "mge-control-plane"
FLUSH_SECONDS = 2.0
"""How long the end of a wave or a plan waits for the spans to leave (see `flush`)."""

_FAILED_EXECUTIONS = frozenset({"failed", "abandoned"})
_FAILED_PLANS = frozenset({MasterPlan.Status.FAILED, MasterPlan.Status.GATE_FAILED})
_SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED)


# --- ids -------------------------------------------------------------------------------------


def trace_id_of(masterplan_id: uuid.UUID) -> int:
    return masterplan_id.int


def span_id_of(row_id: uuid.UUID) -> int:
    """The span id of a masterplan's or a wave's span: the low 64 bits of its UUID (the
    high ones in the unlikely case those are zero: a span id must not be)."""
    return (row_id.int & (2**64 - 1)) or row_id.int >> 64


_pinned: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "mge_otel_pinned_ids", default=None
)


class RowIds(IdGenerator):
    """Random ids, except for a span started inside `pinned_ids`, which gets those.

    The masterplan and wave spans need ids derived from their rows (atom spans in other
    processes already named them as parents) while the SDK draws every id from its
    IdGenerator. Pinning the ids keeps these spans on the tracer's ordinary path (its
    sampler, resource, limits and processor); exporting hand-built ReadableSpans would
    bypass all of them."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_trace_id(self) -> int:
        pinned = _pinned.get()
        return pinned[0] if pinned else self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        pinned = _pinned.get()
        return pinned[1] if pinned else self._random.generate_span_id()


@contextmanager
def pinned_ids(trace_id: int, span_id: int) -> Iterator[None]:
    """The span started inside gets these ids (the trace id only if it is a root)."""
    token = _pinned.set((trace_id, span_id))
    try:
        yield
    finally:
        _pinned.reset(token)


def _parent(masterplan_id: uuid.UUID, span_id: int) -> Context:
    """A context whose parent is a span of the plan's trace made elsewhere (or later)."""
    remote = trace.SpanContext(
        trace_id_of(masterplan_id), span_id, is_remote=True, trace_flags=_SAMPLED
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(remote))


# --- the listener ----------------------------------------------------------------------------


def _resource() -> Resource:
    # Our name unless the SDK's own variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES)
    # give one: Resource.create() alone would let our attributes win over them.
    named = Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}).merge(OTELResourceDetector().detect())
    return Resource.create(dict(named.attributes))


class OpenTelemetryTraces:
    """The listener (execution.events.Listener) that exports spans, and the receiver of
    the lifecycle's `wave_finished` and `masterplan_finished`."""

    def __init__(self, exporter: SpanExporter) -> None:
        # The provider shuts down at exit (shutdown_on_exit, the default), which flushes
        # the batch: a burst worker's last spans leave before it does.
        self.provider = TracerProvider(resource=_resource(), id_generator=RowIds())
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("mge.tracing")

    @classmethod
    def from_environment(cls) -> OpenTelemetryTraces:
        """The OTLP/HTTP exporter configured by the SDK's own variables (endpoint, headers,
        timeout, compression, certificates)."""
        return cls(OTLPSpanExporter())

    def install(self) -> None:
        """Listen to executions and to the lifecycle (once per process, from ready())."""
        events.listen(self)
        wave_finished.connect(self.wave_finished)
        masterplan_finished.connect(self.masterplan_finished)

    def begin(self, scope: events.Scope, run_db: Callable[..., Any]) -> ExecutionSpan:
        return ExecutionSpan(self.tracer, scope)

    def wave_finished(self, sender: object, wave_id: uuid.UUID, **kwargs: object) -> None:
        wave = Wave.objects.get(pk=wave_id)
        if wave.started_at is None or wave.finished_at is None:
            return  # closed without running (every atom blocked): no span to show
        with pinned_ids(trace_id_of(wave.masterplan_id), span_id_of(wave.pk)):
            span = self.tracer.start_span(
                f"wave {wave.number}",
                context=_parent(wave.masterplan_id, span_id_of(wave.masterplan_id)),
                start_time=_nanoseconds(wave.started_at),
                attributes={
                    "mge.masterplan.id": str(wave.masterplan_id),
                    "mge.wave.id": str(wave.pk),
                    "mge.wave.number": wave.number,
                    "mge.wave.status": wave.status,
                    "mge.wave.atom_count": wave.atom_count,
                    "mge.wave.completed_count": wave.completed_count,
                    "mge.wave.failed_count": wave.failed_count,
                },
            )
        if wave.status == Wave.Status.FAILED:
            failed = f"{wave.failed_count} atoms failed or were blocked"
            span.set_status(Status(StatusCode.ERROR, failed))
        span.end(end_time=_nanoseconds(wave.finished_at))
        self.flush()

    def masterplan_finished(
        self, sender: object, masterplan_id: uuid.UUID, status: str, **kwargs: object
    ) -> None:
        masterplan = MasterPlan.objects.get(pk=masterplan_id)
        if masterplan.started_at is None or masterplan.finished_at is None:
            return  # cancelled before it ever ran
        # The ledger's sum (what every page shows as spent), not the atoms' own costs.
        cost = (
            MasterPlan.objects.filter(pk=masterplan.pk)
            .annotate(spent=spent_expression())
            .values_list("spent", flat=True)[0]
        )
        with pinned_ids(trace_id_of(masterplan.pk), span_id_of(masterplan.pk)):
            span = self.tracer.start_span(
                f"masterplan {masterplan.name}",
                context=Context(),  # a root, whatever span may be current here
                start_time=_nanoseconds(masterplan.started_at),
                attributes={
                    "mge.masterplan.id": str(masterplan.pk),
                    "mge.masterplan.name": masterplan.name,
                    "mge.masterplan.status": status,
                    "mge.cost_usd": str(cost),
                },
            )
        if status in _FAILED_PLANS:
            span.set_status(Status(StatusCode.ERROR, masterplan.status_reason or status))
        span.end(end_time=_nanoseconds(masterplan.finished_at))
        self.flush()

    def flush(self, run_db: object = None) -> None:
        """Send what is batched, waiting at most FLUSH_SECONDS (whichever lane asks: the
        exporter's batch is the process's). A wave or a plan ends at the end of a job, and
        RQ's default worker runs each job in a forked work horse that leaves with
        os._exit(), which skips the exit flush: without this, the spans that end last (the
        wave's, the plan's) would go with it. The wait is bounded so that an unreachable
        collector slows no plan by more than that."""
        flushing = threading.Thread(target=self.provider.force_flush, daemon=True)
        flushing.start()
        flushing.join(FLUSH_SECONDS)


def _nanoseconds(moment: dt.datetime) -> int:
    # Through whole microseconds: a float of nanoseconds since 1970 is not exact.
    return round(moment.timestamp() * 1_000_000) * 1000


# --- one execution ---------------------------------------------------------------------------


class ExecutionSpan:
    """One execution's span (execution.events.Recorder), a child of its wave's span (of the
    plan's, for work outside a wave). Like the database trace, it starts to exist with the
    `started` event: an execution whose atom was claimed elsewhere leaves nothing. The
    events before it are kept and added with their times."""

    def __init__(self, tracer: trace.Tracer, scope: events.Scope) -> None:
        self.tracer = tracer
        self.scope = scope
        self.span: trace.Span | None = None
        self._began = time.time_ns()
        self._early: list[tuple[str, dict[str, Any], int]] = []
        self._charged = Decimal(0)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        now = time.time_ns()
        if kind == "llm_call":
            self._llm_call(data, now)
            return
        if kind == "budget_settled":
            self._charged += Decimal(data["charged_usd"])
        if self.span is None and kind != "started":
            self._early.append((kind, data, now))
            return
        self._opened().add_event(kind, _attributes(data), timestamp=now)

    def end(self, status: str, data: dict[str, Any]) -> None:
        if self.span is None and status == "skipped":
            return
        span = self._opened()
        span.set_attribute("mge.status", status)
        span.set_attribute("mge.cost_usd", str(self._charged))
        if status in _FAILED_EXECUTIONS:
            span.set_attribute("error.type", status)
            span.set_status(Status(StatusCode.ERROR, str(data.get("error") or status)))
        elif data.get("error"):
            span.set_attribute("mge.error", str(data["error"]))  # released or waiting: why
        span.end()

    def _opened(self) -> trace.Span:
        if self.span is not None:
            return self.span
        scope = self.scope
        masterplan_id = uuid.UUID(scope.masterplan_id)
        parent = span_id_of(uuid.UUID(scope.wave_id)) if scope.wave_id else None
        name = scope.attributes.get("name") or scope.atom_id or scope.requirement_id
        self.span = self.tracer.start_span(
            f"{scope.kind} {name}",
            context=_parent(masterplan_id, parent or span_id_of(masterplan_id)),
            start_time=self._began,
            attributes=_scope_attributes(scope),
        )
        for kind, data, at in self._early:
            self.span.add_event(kind, _attributes(data), timestamp=at)
        self._early = []
        return self.span

    def _llm_call(self, data: dict[str, Any], ended: int) -> None:
        """The call as a GenAI client span, timed by the event: it is told once the call
        has returned, with the call's whole duration."""
        model = data["model"]
        span = self.tracer.start_span(
            f"chat {model}",
            context=trace.set_span_in_context(self._opened()),
            kind=SpanKind.CLIENT,
            start_time=ended - round(float(data["duration_ms"]) * 1_000_000),
            attributes=_llm_attributes(self.scope, data),
        )
        if data.get("error"):
            span.set_attribute("error.type", _error_type(data))
            span.set_status(Status(StatusCode.ERROR, str(data["error"])))
        span.end(end_time=ended)


def _scope_attributes(scope: events.Scope) -> dict[str, AttributeValue]:
    ids = {
        "mge.masterplan.id": scope.masterplan_id,
        "mge.wave.id": scope.wave_id,
        f"mge.{scope.kind}.id": scope.atom_id or scope.requirement_id,
    }
    described = {f"mge.{scope.kind}.{key}": value for key, value in scope.attributes.items()}
    return _attributes({**ids, **described})


def _llm_attributes(scope: events.Scope, data: dict[str, Any]) -> dict[str, AttributeValue]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": settings.MGE_LLM_PROVIDER,
        "gen_ai.request.model": data["model"],
        "gen_ai.request.max_tokens": data.get("max_tokens"),
        "gen_ai.response.id": data.get("request_id") or None,
        "mge.masterplan.id": scope.masterplan_id,
        "mge.atom.id": scope.atom_id,
        "mge.purpose": data.get("purpose"),
    }
    if "answered_by" in data:
        cache_read = data.get("cache_read_input_tokens", 0)
        cache_creation = data.get("cache_creation_input_tokens", 0)
        attributes |= {
            "gen_ai.response.model": data["answered_by"],
            "gen_ai.response.finish_reasons": [data["stop_reason"]],
            # The conventions count every input token, cached ones too; Anthropic's
            # input_tokens leaves out the cache's, which have their own attributes.
            "gen_ai.usage.input_tokens": data["input_tokens"] + cache_read + cache_creation,
            "gen_ai.usage.output_tokens": data["output_tokens"],
            "gen_ai.usage.cache_read.input_tokens": cache_read or None,
            "gen_ai.usage.cache_creation.input_tokens": cache_creation or None,
            "mge.cost_usd": data.get("cost_usd"),
            "mge.cache_hit": data.get("cache_hit", False),
        }
    return _attributes(attributes)


def _error_type(data: dict[str, Any]) -> str:
    """Low-cardinality, as the conventions ask: the provider's status code, `refused` for
    a call a guard (the budget) stopped, else their catch-all."""
    if data.get("status_code"):
        return str(data["status_code"])
    return "refused" if data.get("refused") else "_OTHER"


def _attributes(data: dict[str, Any]) -> dict[str, AttributeValue]:
    """What OpenTelemetry can carry: scalars and lists of strings; no None, no mappings."""
    kept: dict[str, AttributeValue] = {}
    for key, value in data.items():
        if isinstance(value, str | bool | int | float):
            kept[key] = value
        elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            kept[key] = list(value)
    return kept
