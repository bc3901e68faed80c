"""A loopback server that speaks the Anthropic Messages API (`POST /v1/messages`).

Tests and benchmarks point the real `anthropic` SDK at it (`ANTHROPIC_BASE_URL`), so the
SDK's request building, usage parsing, retries and timeouts run for real. It answers from
the offline responses, reports usage, and injects what real providers do: latency, a
concurrency capacity beyond which it answers 429 at once, and scheduled 429/529/500s.

Control, for processes that do not hold the object: `GET /_stub/stats`,
`POST /_stub/config` (JSON with StubConfig's fields), `POST /_stub/reset`.
Run it with `python manage.py mge llm-stub --port N`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from execution.llm.offline import OfflineResponder, atom_prompt_of, estimate_tokens
from execution.llm.types import LLMError, Usage

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


@dataclass
class StubStats:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    calls_by_atom: Counter[str] = field(default_factory=Counter)
    """Requests that reached the model, per atom (not capacity or scheduled refusals)."""
    in_flight: int = 0
    max_in_flight: int = 0
    last_prompt_by_atom: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": {str(code): count for code, count in self.by_status.items()},
            "calls_by_atom": dict(self.calls_by_atom),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


class StubServer:
    def __init__(self, responder: OfflineResponder, host: str = "127.0.0.1", port: int = 0):
        self.responder = responder
        self.config = StubConfig()
        self.stats = StubStats()
        self._lock = threading.Lock()
        self._scheduled: deque[int] = deque()
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
            return (self._scheduled.popleft() if self._scheduled else None), over

    def leave(self) -> None:
        with self._lock:
            self.stats.in_flight -= 1

    def record(self, status: int) -> None:
        with self._lock:
            self.stats.by_status[status] += 1

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
                text, usage = self.responder.answer(
                    system if isinstance(system, str) else "", messages
                )
            except LLMError as error:  # nothing stored for it: a final 400, as the API answers
                return _error(error.status_code or 400, str(error))
            if text_override is not None:
                text = text_override
        cache = self.config.cache_tokens
        usage = dataclasses.replace(
            usage,
            cache_creation_input_tokens=cache.get("write_5m", 0) + cache.get("write_1h", 0),
            cache_creation_1h_input_tokens=cache.get("write_1h", 0),
            cache_read_input_tokens=cache.get("read", 0),
        )
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
        if self.path == "/_stub/stats":
            self._send(200, self.server.stub.stats.as_json())
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
        if self.path.split("?")[0] != "/v1/messages":
            self._send(404, _error(404, f"no route {self.path}")[1])
            return
        if body is None:
            self._send(400, _error(400, "the body is not JSON")[1])
            return
        scheduled, over_capacity = stub.enter()
        if over_capacity:
            stub.record(429)
            retry_after = stub.config.retry_after_seconds
            headers = {"retry-after": f"{retry_after:g}"}
            self._send(429, _error(429, "over capacity")[1], headers)
            return
        try:
            if scheduled is not None:
                status, payload, headers = _error(
                    scheduled, f"scheduled {scheduled}", stub.config.fault_retry_after_ms
                )
            else:
                status, payload, headers = stub.answer(body)
        finally:
            stub.leave()
        stub.record(status)
        self._send(status, payload, headers)

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
        data = json.dumps(payload).encode()
        self.send_response(status)  # 529 has no standard phrase; the empty one is fine
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
