"""A loopback server that speaks the Anthropic Messages API (`POST /v1/messages`).

Tests and benchmarks point the real `anthropic` SDK at it (`ANTHROPIC_BASE_URL`), so the
SDK's request building, usage parsing, retries and timeouts run for real. It answers from
the offline responses, reports usage, and injects what real providers do: latency, a
concurrency capacity beyond which it answers 429 at once, scheduled 429/529/500s, answers
cut off mid-body (status 0 in `scheduled_statuses`), and an outage (`down_status`). It
also counts tokens (`POST /v1/messages/count_tokens`), knows models (`GET /v1/models/ID`)
and keeps what it billed: only answers it sent whole (a cut-off answer is modelled as a
failure in front of the model, before anything was billed).

It also runs Message Batches (`/v1/messages/batches`, execution.llm.stub_batches): each
item answered as `POST /v1/messages` would answer it, billed at the batch price.

Control, for processes that do not hold the object: `GET /_stub/stats`,
`POST /_stub/config` (JSON with StubConfig's fields), `POST /_stub/reset`.
Run it with `python manage.py mge llm-stub --port N`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from execution.llm.offline import (
    OfflineResponder,
    atom_prompt_of,
    estimate_tokens,
    input_tokens_of,
)
from execution.llm.stub_batches import BatchRefused, StubBatches
from execution.llm.stub_prompt_cache import StubPromptCache, system_text
from execution.llm.types import LLMError, Usage

_BATCH_PATH = re.compile(r"/v1/messages/batches/(msgbatch_\w+)(/results|/cancel)?")

ERROR_TYPES = {
    400: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class StubConfig:
    latency_ms: float = 0.0
    capacity: int | None = None
    """Concurrent requests served; one more is answered 429 at once, as providers do."""
    retry_after_seconds: float = 1.0
    """The retry-after of capacity 429s."""
    scheduled_statuses: list[int] = field(default_factory=list)
    """Statuses answered to the next requests, in order (then normal answers)."""
    atom_statuses: dict[str, list[int]] = field(default_factory=dict)
    """Per atom name, statuses answered to its next requests."""
    failing_atoms: dict[str, int] = field(default_factory=dict)
    """Per atom name, a status answered to every one of its requests."""
    atom_texts: dict[str, list[str]] = field(default_factory=dict)
    """Per atom name, texts answered to its next successful requests (then the normal one)."""
    fault_retry_after_ms: int = 10
    """retry-after-ms sent with scheduled 429/529s, so SDK retries stay fast in tests."""
    cache_tokens: dict[str, int] = field(default_factory=dict)
    """Prompt-cache usage reported with every answer: `write_5m`, `write_1h`, `read`."""
    down_status: int | None = None
    """The provider is down: every API request (probes and token counts too) gets this."""
    error_every: int = 0
    """Every Nth request (after the scheduled ones) is answered 500: 20 errs on 5 %."""
    batch_processing_seconds: float = 0.2
    """How long a Message Batch stays `in_progress` after it was created."""
    batch_item_failures: dict[str, str] = field(default_factory=dict)
    """A substring of a batch item's prompt (its last message) → the result it gets
    instead of an answer: `errored`, `expired` or `canceled`."""
    batch_create_status: int | None = None
    """Every batch create is answered with this status (a 500: the SDK retries it too)."""


class Billed(NamedTuple):
    model: str
    usage: Usage
    at: float
    """Epoch seconds the request arrived (the usage report's buckets go by it)."""
    batch: bool = False
    """An item of a Message Batch: charged at the batch price."""


@dataclass
class StubStats:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    calls_by_atom: Counter[str] = field(default_factory=Counter)
    """Requests that reached the model, per atom (not capacity or scheduled refusals)."""
    in_flight: int = 0
    max_in_flight: int = 0
    last_prompt_by_atom: dict[str, str] = field(default_factory=dict)
    answers_by_atom: Counter[str] = field(default_factory=Counter)
    """Whole answers sent, per atom: each is one file the engine may write."""
    billed: list[Billed] = field(default_factory=list)
    """Every answer the model gave: what the provider charges for."""
    dropped: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    """The number of items of each Message Batch created, in order."""
    batch_polls: int = 0
    """Retrievals of a batch's status."""
    batches_canceled: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": {str(code): count for code, count in self.by_status.items()},
            "calls_by_atom": dict(self.calls_by_atom),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "answers_by_atom": dict(self.answers_by_atom),
            "billed": [
                [bill.model, asdict(bill.usage), bill.at, bill.batch] for bill in self.billed
            ],
            "dropped": self.dropped,
            "batch_sizes": self.batch_sizes,
            "batch_polls": self.batch_polls,
            "batches_canceled": self.batches_canceled,
        }


class StubServer:
    def __init__(self, responder: OfflineResponder, host: str = "127.0.0.1", port: int = 0):
        self.responder = responder
        self.config = StubConfig()
        self.stats = StubStats()
        self._lock = threading.Lock()
        self._scheduled: deque[int] = deque()
        self.batches = StubBatches(self)
        self.prompt_cache = StubPromptCache()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.stub = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def configure(self, **changes: Any) -> None:
        known = {f.name for f in fields(StubConfig)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown stub settings: {', '.join(sorted(unknown))}")
        with self._lock:
            for name, value in changes.items():
                setattr(self.config, name, value)
            if "scheduled_statuses" in changes:
                self._scheduled = deque(changes["scheduled_statuses"])

    def reset(self) -> None:
        with self._lock:
            self.config = StubConfig()
            self.stats = StubStats()
            self._scheduled = deque()
            self.batches = StubBatches(self)
        self.prompt_cache.clear()

    def start(self) -> StubServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- answering -------------------------------------------------------------------

    def enter(self) -> tuple[int | None, bool]:
        """Count a request in; returns (fault status or None, whether it was over capacity)."""
        with self._lock:
            self.stats.requests += 1
            over = self.config.capacity is not None and self.stats.in_flight >= self.config.capacity
            if not over:
                self.stats.in_flight += 1
                self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            if self._scheduled:
                return self._scheduled.popleft(), over
            every = self.config.error_every
            return (500 if every and self.stats.requests % every == 0 else None), over

    def leave(self) -> None:
        with self._lock:
            self.stats.in_flight -= 1

    def record(self, status: int) -> None:
        with self._lock:
            self.stats.by_status[status] += 1

    def record_cut_off(self) -> None:
        with self._lock:
            self.stats.dropped += 1

    def bill(
        self, body: dict[str, Any], payload: dict[str, Any], arrived: float, *, batch: bool = False
    ) -> None:
        """An answer went out whole (or a batch holding it ended): it is charged, and its
        atom got one."""
        usage = Usage(**{
            name: payload["usage"][name]
            for name in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                         "cache_read_input_tokens")
        }, cache_creation_1h_input_tokens=payload["usage"]["cache_creation"][
            "ephemeral_1h_input_tokens"])  # fmt: skip
        prompt = atom_prompt_of(body["messages"])
        with self._lock:
            self.stats.billed.append(Billed(body["model"], usage, arrived, batch))
            if prompt:
                self.stats.answers_by_atom[prompt.atom] += 1

    def usage_report(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """The Admin API's usage report of what the stub billed: tokens per time bucket
        (and per model with `group_by=model`), for the stub's one API key."""
        try:
            start = _epoch(query["starting_at"][0])
            end = _epoch(query["ending_at"][0]) if "ending_at" in query else time.time()
            width = {"1m": 60, "1h": 3600, "1d": 86400}[query.get("bucket_width", ["1d"])[0]]
        except (KeyError, ValueError):
            return _error(400, "starting_at (RFC 3339) and a bucket_width of 1m/1h/1d")[:2]
        keys = query.get("api_key_ids")
        by_model = "model" in query.get("group_by", [])
        start -= start % width
        buckets = []
        with self._lock:
            billed = [] if keys and STUB_API_KEY_ID not in keys else list(self.stats.billed)
        for bucket_start in range(int(start), int(end), width):
            totals: dict[str | None, Counter[str]] = {}
            for bill in billed:
                if bucket_start <= bill.at < bucket_start + width:
                    usage = bill.usage
                    one_hour = usage.cache_creation_1h_input_tokens
                    totals.setdefault(bill.model if by_model else None, Counter()).update({
                        "uncached_input_tokens": usage.input_tokens,
                        "output_tokens": usage.output_tokens,
                        "cache_read_input_tokens": usage.cache_read_input_tokens,
                        "ephemeral_1h_input_tokens": one_hour,
                        "ephemeral_5m_input_tokens": usage.cache_creation_input_tokens - one_hour,
                    })  # fmt: skip
            buckets.append({
                "starting_at": _rfc3339(bucket_start),
                "ending_at": _rfc3339(bucket_start + width),
                "results": [
                    {"model": model, "api_key_id": STUB_API_KEY_ID if keys else None,
                     "uncached_input_tokens": tokens["uncached_input_tokens"],
                     "output_tokens": tokens["output_tokens"],
                     "cache_read_input_tokens": tokens["cache_read_input_tokens"],
                     "cache_creation": {
                         "ephemeral_1h_input_tokens": tokens["ephemeral_1h_input_tokens"],
                         "ephemeral_5m_input_tokens": tokens["ephemeral_5m_input_tokens"]}}
                    for model, tokens in totals.items()
                ],
            })  # fmt: skip
        return 200, {"data": buckets, "has_more": False, "next_page": None}

    def count_tokens(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not body.get("model"):
            return _error(400, "model and messages are required")[:2]
        return 200, {"input_tokens": input_tokens_of(system_text(body.get("system")), messages)}

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, JSON body and extra headers for one Messages API request."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not body.get("model") or not body.get("max_tokens"):
            return _error(400, "model, max_tokens and messages are required")
        prompt = atom_prompt_of(messages)
        atom = prompt.atom if prompt else ""
        with self._lock:
            if atom:
                self.stats.calls_by_atom[atom] += 1
                self.stats.last_prompt_by_atom[atom] = str(messages[-1].get("content", ""))
            status = self.config.failing_atoms.get(atom)
            queued = self.config.atom_statuses.get(atom)
            if status is None and queued:
                status = queued.pop(0)
            scripted = self.config.atom_texts.get(atom)
            text_override = scripted.pop(0) if scripted and status is None else None
            latency = self.config.latency_ms / 1000
        time.sleep(latency)
        if status is not None:
            return _error(status, f"injected {status}", self.config.fault_retry_after_ms)
        system = body.get("system") or ""
        if text_override is not None and prompt is None:
            # A scripted answer to a request that is no atom's (a classification, a test):
            # the responder may have nothing stored for it.
            text = text_override
            usage = Usage(
                input_tokens=estimate_tokens(json.dumps(messages)),
                output_tokens=estimate_tokens(text),
            )
        else:
            try:
                text, usage = self.responder.answer(system_text(system), messages)
            except LLMError as error:  # nothing stored for it: a final 400, as the API answers
                return _error(error.status_code or 400, str(error))
            if text_override is not None:
                text = text_override
        cache = self.config.cache_tokens
        if cache:  # configured figures, whatever the request marked
            usage = dataclasses.replace(
                usage,
                cache_creation_input_tokens=cache.get("write_5m", 0) + cache.get("write_1h", 0),
                cache_creation_1h_input_tokens=cache.get("write_1h", 0),
                cache_read_input_tokens=cache.get("read", 0),
            )
        else:
            usage = self.prompt_cache.apply(body, usage)
        return (
            200,
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": _usage_json(usage),
            },
            {},
        )


STUB_API_KEY_ID = "apikey_stub"
"""The id of the one API key the stub answers as (the usage report's filter)."""


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def _usage_json(usage: Usage) -> dict[str, object]:
    """Usage as the Messages API reports it: the cache writes split by TTL."""
    one_hour = usage.cache_creation_1h_input_tokens
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_creation_input_tokens - one_hour,
            "ephemeral_1h_input_tokens": one_hour,
        },
        "service_tier": "standard",
    }


def _error(
    status: int, message: str, retry_after_ms: int | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms is not None else {}
    error_type = ERROR_TYPES.get(status, "api_error")
    return status, {"type": "error", "error": {"type": error_type, "message": message}}, headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A wave opens a hundred connections at once; the default backlog of 5 would reset
    # most of them before a thread accepts them.
    request_queue_size = 1024
    stub: StubServer
    server_address: tuple[str, int]  # AF_INET: what bind() gave (host, port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK pools its connections
    # The headers and the body go out in two writes: with Nagle's algorithm the body
    # waited for the client's delayed ACK, 40 ms added to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark sends thousands of requests."""

    def do_GET(self) -> None:
        stub = self.server.stub
        if self.path == "/_stub/stats":
            self._send(200, stub.stats.as_json())
        elif self.path.startswith("/v1/") and stub.config.down_status is not None:
            self._send_down(stub.config.down_status)
        elif self.path.startswith("/v1/organizations/usage_report/messages"):
            key = self.headers.get("x-api-key") or self.headers.get("authorization") or ""
            if not key.removeprefix("Bearer ").startswith("sk-ant-admin"):
                self._send(401, _error(401, "the Admin API needs an Admin API key")[1])
            else:
                query = parse_qs(urlsplit(self.path).query)
                self._send(*stub.usage_report({
                    name.removesuffix("[]"): [part for value in values for part in value.split(",")]
                    for name, values in query.items()
                }))  # fmt: skip
        elif batch := _BATCH_PATH.fullmatch(self.path.split("?")[0]):
            batch_id, part = batch.groups()
            try:
                if part == "/results":
                    self._send_data(200, stub.batches.results(batch_id), "application/binary")
                elif part is None:
                    self._send(200, stub.batches.retrieve(batch_id))
                else:
                    self._send(405, _error(405, "cancel is a POST")[1])
            except BatchRefused as refused:
                self._send(refused.status, _error(refused.status, str(refused))[1])
        elif self.path.startswith("/v1/models/"):
            model = self.path.removeprefix("/v1/models/").split("?")[0]
            self._send(200, {"type": "model", "id": model, "display_name": model,
                             "created_at": "2025-01-01T00:00:00Z"})  # fmt: skip
        else:
            self._send(
                404, {"type": "error", "error": {"type": "not_found_error", "message": "no"}}
            )

    def do_POST(self) -> None:
        body = self._read_json()
        stub = self.server.stub
        if self.path == "/_stub/config":
            try:
                stub.configure(**(body or {}))
            except (TypeError, ValueError) as error:
                self._send(400, {"error": str(error)})
            else:
                self._send(200, asdict(stub.config))
            return
        if self.path == "/_stub/reset":
            stub.reset()
            self._send(200, {"reset": True})
            return
        route = self.path.split("?")[0]
        batch = _BATCH_PATH.fullmatch(route)
        if route not in ("/v1/messages", "/v1/messages/count_tokens", "/v1/messages/batches") and (
            batch is None or batch.group(2) != "/cancel"
        ):
            self._send(404, _error(404, f"no route {self.path}")[1])
            return
        if body is None:
            self._send(400, _error(400, "the body is not JSON")[1])
            return
        if stub.config.down_status is not None:
            stub.record(stub.config.down_status)
            self._send_down(stub.config.down_status)
            return
        if route == "/v1/messages/count_tokens":
            self._send(*stub.count_tokens(body))
            return
        if route == "/v1/messages/batches" or batch is not None:
            try:
                if batch is None:
                    self._send(200, stub.batches.create(body))
                else:
                    self._send(200, stub.batches.cancel(batch.group(1)))
            except BatchRefused as refused:
                self._send(refused.status, _error(refused.status, str(refused))[1])
            return
        arrived = time.time()
        scheduled, over_capacity = stub.enter()
        if over_capacity:
            stub.record(429)
            retry_after = stub.config.retry_after_seconds
            headers = {"retry-after": f"{retry_after:g}"}
            self._send(429, _error(429, "over capacity")[1], headers)
            return
        try:
            if scheduled:  # 0: an answer, to be cut off
                status, payload, headers = _error(
                    scheduled, f"scheduled {scheduled}", stub.config.fault_retry_after_ms
                )
            else:
                status, payload, headers = stub.answer(body)
        finally:
            stub.leave()
        if scheduled == 0:
            stub.record_cut_off()
            self._send_cut_off(status, payload)
            return
        stub.record(status)
        if status == 200:
            # Billed once answered, delivered or not: a client that died mid-call pays too.
            stub.bill(body, payload, arrived)
        self._send(status, payload, headers)

    def _send_down(self, status: int) -> None:
        self._send(status, _error(status, "the provider is down")[1], {"retry-after": "1"})

    def _send_cut_off(self, status: int, payload: dict[str, Any]) -> None:
        """Headers and half the body, then the connection closes: an answer cut off."""
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _read_json(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return None

    def _send(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_data(status, json.dumps(payload).encode(), headers=headers)

    def _send_data(
        self,
        status: int,
        data: bytes,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)  # 529 has no standard phrase; the empty one is fine
        self.send_header("content-type", content_type or "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
