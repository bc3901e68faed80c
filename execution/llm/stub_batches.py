"""The API stub's Message Batches (`/v1/messages/batches`): create, retrieve, results,
cancel, in the shapes the `anthropic` SDK parses (anthropic.types.messages).

Each item is answered when its batch is created, as `POST /v1/messages` would answer it
(StubServer.answer), but the batch stays `in_progress` for `batch_processing_seconds`;
its answers are billed when it ends (marked `batch`: the provider charges them at the
batch price). Cancelling a batch that has not ended cancels every item, unbilled (the
stub processes nothing before the end). `batch_item_failures` picks items, by a
substring of their prompt, that come back `errored`, `expired` or `canceled` instead of
an answer; `batch_create_status` refuses every create.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execution.llm.stub_server import StubServer

EXPIRES_AFTER_SECONDS = 24 * 3600
"""A batch not ended by then expires (the API's rule; the stub's end long before)."""


class BatchRefused(Exception):
    """The request is answered with this status and message (an API error body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class StubBatch:
    id: str
    created_at: float
    items: list[tuple[str, dict[str, Any]]]
    """(custom_id, params) as sent."""
    results: dict[str, dict[str, Any]]
    """custom_id → the item's `result` object, decided at creation."""
    canceled_at: float | None = None
    ended_at: float | None = None


class StubBatches:
    def __init__(self, stub: StubServer) -> None:
        self.stub = stub
        self._batches: dict[str, StubBatch] = {}
        self._lock = threading.Lock()

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        status = self.stub.config.batch_create_status
        if status is not None:
            raise BatchRefused(status, f"injected {status} on batch create")
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise BatchRefused(400, "requests must be a non-empty list")
        items: list[tuple[str, dict[str, Any]]] = []
        for item in requests:
            if not (
                isinstance(item, dict)
                and isinstance(item.get("custom_id"), str)
                and isinstance(item.get("params"), dict)
            ):
                raise BatchRefused(400, "each request needs a custom_id and params")
            items.append((item["custom_id"], item["params"]))
        if len({custom_id for custom_id, _ in items}) != len(items):
            raise BatchRefused(400, "custom_id values must be unique within a batch")
        batch = StubBatch(
            id=f"msgbatch_{uuid.uuid4().hex[:24]}",
            created_at=time.time(),
            items=items,
            results={custom_id: self._result(params) for custom_id, params in items},
        )
        with self._lock:
            self._batches[batch.id] = batch
            self.stub.stats.batch_sizes.append(len(items))
        return self._json(batch)

    def retrieve(self, batch_id: str, *, poll: bool = True) -> dict[str, Any]:
        batch = self._get(batch_id)
        if poll:
            with self._lock:
                self.stub.stats.batch_polls += 1
        self._end_if_due(batch)
        return self._json(batch)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        batch = self._get(batch_id)
        with self._lock:
            if batch.canceled_at is None and batch.ended_at is None:
                batch.canceled_at = time.time()
                self.stub.stats.batches_canceled += 1
                batch.results = {custom_id: {"type": "canceled"} for custom_id in batch.results}
        self._end_if_due(batch)
        return self._json(batch)

    def results(self, batch_id: str) -> bytes:
        """JSON Lines, one per item (`MessageBatchIndividualResponse`), once ended."""
        batch = self._get(batch_id)
        self._end_if_due(batch)
        if batch.ended_at is None:
            raise BatchRefused(400, f"batch {batch_id} is still in progress")
        lines = [
            json.dumps({"custom_id": custom_id, "result": result})
            for custom_id, result in batch.results.items()
        ]
        return ("\n".join(lines) + "\n").encode()

    def _get(self, batch_id: str) -> StubBatch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise BatchRefused(404, f"no message batch {batch_id}")
        return batch

    def _result(self, params: dict[str, Any]) -> dict[str, Any]:
        messages = params.get("messages")
        last = messages[-1] if isinstance(messages, list) and messages else None
        prompt = str(last.get("content", "")) if isinstance(last, dict) else ""
        failures = self.stub.config.batch_item_failures
        failure = next((kind for part, kind in failures.items() if part in prompt), None)
        if failure == "errored":
            error = {"type": "invalid_request_error", "message": "injected batch item error"}
            return {"type": "errored", "error": {"type": "error", "error": error}}
        if failure is not None:
            return {"type": failure}
        status, payload, _ = self.stub.answer(params)
        if status != 200:
            return {"type": "errored", "error": payload}
        return {"type": "succeeded", "message": payload}

    def _end_if_due(self, batch: StubBatch) -> None:
        """End a batch whose processing time is over, or that was canceled: its answers
        are billed then, once."""
        now = time.time()
        with self._lock:
            due = batch.canceled_at is not None or (
                now >= batch.created_at + self.stub.config.batch_processing_seconds
            )
            if batch.ended_at is not None or not due:
                return
            batch.ended_at = now
        for custom_id, params in batch.items:
            result = batch.results[custom_id]
            if result["type"] == "succeeded":
                self.stub.bill(params, result["message"], batch.created_at, batch=True)

    def _json(self, batch: StubBatch) -> dict[str, Any]:
        """The batch as `MessageBatch`: counts are zero until it ends, as the API's."""
        ended = batch.ended_at is not None
        counts = Counter(result["type"] for result in batch.results.values()) if ended else {}
        status = "ended" if ended else "canceling" if batch.canceled_at else "in_progress"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": {
                "processing": 0 if ended else len(batch.items),
                **{
                    kind: counts.get(kind, 0)
                    for kind in ("succeeded", "errored", "canceled", "expired")
                },
            },  # fmt: skip
            "created_at": _timestamp(batch.created_at),
            "expires_at": _timestamp(batch.created_at + EXPIRES_AFTER_SECONDS),
            "ended_at": _timestamp(batch.ended_at),
            "cancel_initiated_at": _timestamp(batch.canceled_at),
            "archived_at": None,
            # The SDK reads the results from this URL, not from a path of its own: it must
            # name the stub.
            "results_url": (
                f"{self.stub.url}/v1/messages/batches/{batch.id}/results" if ended else None
            ),
        }


def _timestamp(epoch: float | None) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()
