"""OpenTelemetry export: a real plan's spans, as an OTLP/HTTP collector receives them —
names, parentage across the plan's jobs, and GenAI attributes that agree with the ledger."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.db.models import Sum
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from budget.models import CostEntry
from conftest import billed_usd, engine_db
from execution import events
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan
from execution.signals import masterplan_finished, wave_finished
from tracing import service
from tracing.models import AtomExecutionTrace
from tracing.otel import OpenTelemetryTraces


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver on loopback: keeps every POST (path, content type, body)
    and answers `status`."""

    status: int = 200
    posts: list[tuple[str, str, bytes]] = field(default_factory=list)
    server: HTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/v1/traces"

    def requests(self) -> list[ExportTraceServiceRequest]:
        return [ExportTraceServiceRequest.FromString(body) for _, _, body in self.posts]

    def spans(self) -> list[Span]:
        return [
            span
            for request in self.requests()
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    assert kind is not None
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind)


def _values(attributes: list[KeyValue]) -> dict[str, Any]:
    return {attribute.key: _value(attribute.value) for attribute in attributes}


@pytest.fixture
def collector() -> Iterator[Collector]:
    received = Collector()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.posts.append((self.path, self.headers["content-type"], body))
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(received.status)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None: ...

    received.server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=received.server.serve_forever, daemon=True).start()
    yield received
    received.server.shutdown()
    received.server.server_close()


@contextmanager
def installed(endpoint: str) -> Iterator[OpenTelemetryTraces]:
    """The listener, exporting to `endpoint`, installed for the block (not the process's)."""
    traces = OpenTelemetryTraces(OTLPSpanExporter(endpoint=endpoint, timeout=2))
    traces.install()
    try:
        yield traces
    finally:
        events._listeners.remove(traces)
        wave_finished.disconnect(traces.wave_finished)
        masterplan_finished.disconnect(traces.masterplan_finished)
        traces.provider.shutdown()


@pytest.fixture
def traces(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenTelemetryTraces]:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    with installed(collector.url) as installed_traces:
        yield installed_traces


def received(traces: OpenTelemetryTraces, collector: Collector) -> list[Span]:
    """Every span, once what the batch still holds has been sent."""
    traces.provider.force_flush()
    return collector.spans()


def span_id(row_id: uuid.UUID) -> bytes:
    return (row_id.int & (2**64 - 1)).to_bytes(8, "big")


@engine_db
def test_a_plan_run_arrives_as_one_trace_of_plan_wave_atom_and_llm_call_spans(
    imported, stub_server, run_jobs, collector, traces
):
    stub_server.configure(cache_tokens={"read": 120, "write_5m": 30})
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED

    spans = received(traces, collector)
    assert {span.trace_id for span in spans} == {masterplan.pk.bytes}
    assert {(path, kind) for path, kind, _ in collector.posts} == {
        ("/v1/traces", "application/x-protobuf")
    }
    for request in collector.requests():
        for resource_spans in request.resource_spans:
            resource = _values(resource_spans.resource.attributes)
            assert resource["service.name"] == "mge-control-plane"
    by_kind: dict[str, list[Span]] = {}
    for span in spans:
        by_kind.setdefault(span.name.split(" ")[0], []).append(span)

    (plan,) = by_kind["masterplan"]
    assert plan.name == "masterplan slugkit" and plan.parent_span_id == b""
    assert plan.span_id == span_id(masterplan.pk)
    assert _values(plan.attributes)["mge.masterplan.status"] == "completed"
    assert Decimal(_values(plan.attributes)["mge.cost_usd"]) == billed_usd(stub_server)

    waves = {wave.pk: wave for wave in masterplan.waves.all()}
    wave_spans = {span.span_id: span for span in by_kind["wave"]}
    assert set(wave_spans) == {span_id(pk) for pk in waves}
    for wave in waves.values():
        wave_span = wave_spans[span_id(wave.pk)]
        assert wave_span.name == f"wave {wave.number}"
        assert wave_span.parent_span_id == plan.span_id
        assert plan.start_time_unix_nano <= wave_span.start_time_unix_nano
        assert wave_span.end_time_unix_nano <= plan.end_time_unix_nano

    atoms = {str(atom.pk): atom for atom in masterplan.atoms.all()}
    atom_spans = {_values(span.attributes)["mge.atom.id"]: span for span in by_kind["atom"]}
    assert len(by_kind["atom"]) == len(atom_spans) == len(atoms)
    assert set(atom_spans) == set(atoms)
    calls = by_kind["chat"]
    for atom_id, atom in atoms.items():
        atom_span = atom_spans[atom_id]
        assert atom_span.name == f"atom {atom.name}"
        assert atom_span.parent_span_id == span_id(atom.wave_id)
        assert _values(atom_span.attributes)["mge.status"] == "completed"
        assert {"started", "cache_miss", "budget_settled", "validation"} <= {
            event.name for event in atom_span.events
        }
        own = [call for call in calls if call.parent_span_id == atom_span.span_id]
        assert len(own) == AtomExecutionTrace.objects.get(atom_id=atom_id).llm_calls == 1
        _assert_genai_call(own[0], atom, atom_span)
    assert len(calls) == len(atoms)
    assert sum(_values(call.attributes)["gen_ai.usage.output_tokens"] for call in calls) == sum(
        bill.usage.output_tokens for bill in stub_server.stats.billed
    )


def _assert_genai_call(call: Span, atom: Atom, atom_span: Span) -> None:
    """The call's GenAI attributes: what was asked, what came back, what it cost — the
    ledger's figures for the atom."""
    attributes = _values(call.attributes)
    ledger = CostEntry.objects.filter(atom=atom).aggregate(
        cost=Sum("cost_usd"), input=Sum("input_tokens"), output=Sum("output_tokens"),
        read=Sum("cache_read_input_tokens"), creation=Sum("cache_creation_input_tokens"),
    )  # fmt: skip
    assert call.name == f"chat {atom.model_name}" and call.kind == Span.SPAN_KIND_CLIENT
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.model"] == atom.model_name
    assert attributes["gen_ai.response.model"]
    assert attributes["gen_ai.request.max_tokens"] > 0
    assert attributes["gen_ai.response.id"].startswith("req_")
    assert attributes["gen_ai.usage.input_tokens"] == (
        ledger["input"] + ledger["read"] + ledger["creation"]
    )
    assert attributes["gen_ai.usage.output_tokens"] == ledger["output"] > 0
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == ledger["read"] == 120
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == ledger["creation"] == 30
    assert Decimal(attributes["mge.cost_usd"]) == ledger["cost"] > 0
    assert attributes["mge.cache_hit"] is False
    assert attributes["mge.masterplan.id"] == str(atom.masterplan_id)
    assert atom_span.start_time_unix_nano <= call.start_time_unix_nano
    assert call.start_time_unix_nano < call.end_time_unix_nano <= atom_span.end_time_unix_nano


@engine_db
def test_a_failing_call_fails_its_llm_span_its_atom_span_and_the_plan_span(
    imported, stub_server, run_jobs, collector, traces
):
    stub_server.configure(failing_atoms={"fold_accents": 400})
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.FAILED

    spans = received(traces, collector)
    failed = [span for span in spans if span.status.code == span.status.STATUS_CODE_ERROR]
    (atom,) = [span for span in failed if span.name == "atom fold_accents"]
    assert _values(atom.attributes)["error.type"] == "failed"
    calls = [span for span in failed if span.parent_span_id == atom.span_id]
    assert calls and all(_values(call.attributes)["error.type"] == "400" for call in calls)
    assert all(call.name.startswith("chat ") for call in calls)
    (plan,) = [span for span in failed if span.name == "masterplan slugkit"]
    assert _values(plan.attributes)["mge.masterplan.status"] == "failed"
    assert plan.status.message == masterplan.status_reason


@pytest.mark.parametrize("collector_down", ["answers 500", "unreachable"])
@engine_db
def test_a_collector_that_fails_does_not_fail_the_plan(
    imported, fast_offline, run_jobs, collector, collector_down
):
    if collector_down == "answers 500":
        collector.status, endpoint = 500, collector.url
    else:
        with socket.socket() as probe:  # a port nobody listens on once it is closed
            probe.bind(("127.0.0.1", 0))
            endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}/v1/traces"
    with installed(endpoint) as traces:
        masterplan = imported("slugkit")
        start_masterplan(masterplan.pk)
        run_jobs()
        traces.provider.force_flush()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert masterplan.atoms.filter(status=Atom.Status.COMPLETED).count() == masterplan.atoms.count()
    # The database traces were written all the same, and no listener failed.
    traced = AtomExecutionTrace.objects.filter(masterplan=masterplan)
    assert traced.count() == masterplan.atoms.count()
    assert service.errors_counted() == 0
    if collector_down == "answers 500":
        assert collector.posts  # it was asked, and said no
