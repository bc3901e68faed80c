"""Message Batches for calls that are not latency-bound: the gateway's batch stage.

A request marked `batch` (LLMRequest.batch: acceptance-test generation and requirement
classification, MGE_LLM_BATCH_PURPOSES) for the Anthropic provider waits in this process's
batcher instead of going to `messages.create`. The batcher sends what is waiting as one
Message Batch when MGE_LLM_BATCH_SIZE requests are there or MGE_LLM_BATCH_TIMEOUT_MS
after the first came, polls it every MGE_LLM_BATCH_POLL_SECONDS until it has ended, and
hands each caller its own result. The provider bills a batch's answers at the batch price.

Why a stage of its own, between the budget and the concurrency slot, rather than a
branch in the provider: the stage answers the call itself, as a cache hit does, so a call
waiting in a batch holds no slot of the shared limit (a batch is one request to the
Batches API, not ten concurrent Messages requests against the rate limit), and the core's
provider stage stays one line. An item that fails — `errored`, `expired`, `canceled`, a
batch that could not be created, one not ended after MGE_LLM_BATCH_MAX_WAIT_SECONDS (then
cancelled) — fails only itself: its caller passes the call on down the chain, a normal
call that takes a slot and is billed at the full price. The budget stage above reserved
the full price for that reason, and settles at what was billed (LLMResponse.batched).

The batcher's threads only talk to the API; everything the caller observes (the traced
`batch_*` events, the fallback call) happens in the caller's thread, where its execution's
context variables and its concurrency slot state live.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

import anthropic
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from anthropic.types.messages.batch_create_params import Request
from django.conf import settings

from execution import events
from execution.llm.anthropic_provider import AnthropicProvider, response_of
from execution.llm.gateway import get_provider
from execution.llm.types import Call, LLMRequest, LLMResponse, Next

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fallback:
    """The item was not answered in its batch: ask for it with a normal call."""

    reason: str


Outcome = LLMResponse | Fallback


def wanted(purpose: str) -> bool:
    """Whether requests for this purpose go through Message Batches here (callers mark
    their requests `batch` with it, and may then send them concurrently to fill one)."""
    return purpose in settings.MGE_LLM_BATCH_PURPOSES and _batching_provider() is not None


def _batching_provider() -> AnthropicProvider | None:
    """The provider that batches go to: Anthropic's, when MGE_LLM_BATCH is on (the offline
    provider has no batches)."""
    provider = get_provider()
    if settings.MGE_LLM_BATCH == "on" and isinstance(provider, AnthropicProvider):
        return provider
    return None


def batch_stage(call: Call, next_stage: Next) -> LLMResponse:
    request = call.request
    provider = _batching_provider() if request.batch else None
    if provider is None:
        return next_stage(call)
    # The wait may be long: a slot the caller took ahead goes back, as for the budget's.
    call.before_wait()
    waiting = time.perf_counter()
    outcome = _batcher_for(provider).submit(request).result()
    waited_ms = (time.perf_counter() - waiting) * 1000
    if isinstance(outcome, LLMResponse):
        events.emit("batch_answered", request_id=outcome.request_id, duration_ms=waited_ms)
        return outcome
    logger.warning(
        "a %s request of masterplan %s was not answered in its Message Batch (%s): asked "
        "with a normal call", request.purpose, request.masterplan_id, outcome.reason,
    )  # fmt: skip
    events.emit("batch_fallback", reason=outcome.reason, duration_ms=waited_ms)
    return next_stage(call)


@dataclass(frozen=True)
class BatchSettings:
    size: int
    timeout_seconds: float
    poll_seconds: float
    max_wait_seconds: float

    @classmethod
    def current(cls) -> BatchSettings:
        return cls(
            size=settings.MGE_LLM_BATCH_SIZE,
            timeout_seconds=settings.MGE_LLM_BATCH_TIMEOUT_MS / 1000,
            poll_seconds=float(settings.MGE_LLM_BATCH_POLL_SECONDS),
            max_wait_seconds=float(settings.MGE_LLM_BATCH_MAX_WAIT_SECONDS),
        )


@dataclass
class _Item:
    request: LLMRequest
    custom_id: str
    future: Future[Outcome] = field(default_factory=Future)
    queued_at: float = field(default_factory=time.monotonic)


class Batcher:
    """Collects batch requests, sends them as Message Batches, resolves each caller's
    future with its answer or a Fallback. Thread-safe; one per process and provider."""

    def __init__(self, provider: AnthropicProvider, config: BatchSettings) -> None:
        self.provider = provider
        self.config = config
        self.pid = os.getpid()
        # A client without the provider's hooks: the Batches API's answers (its own rate
        # limits) must not move the concurrency limit of Messages calls.
        self.client = provider.client.copy(http_client=anthropic.DefaultHttpxClient())
        self._ids = itertools.count(1)
        self._waiting: list[_Item] = []
        self._changed = threading.Condition()

    def submit(self, request: LLMRequest) -> Future[Outcome]:
        item = _Item(request, f"item-{next(self._ids)}")
        with self._changed:
            self._waiting.append(item)
            if len(self._waiting) == 1:
                self._start_collector()
            elif len(self._waiting) >= self.config.size:
                self._changed.notify_all()
        return item.future

    def _start_collector(self) -> None:
        threading.Thread(target=self._collect, name="mge-llm-batch", daemon=True).start()

    def _collect(self) -> None:
        """Wait until a batch is full or its first item's timeout is over, then send it
        (this thread then polls it until it ends)."""
        with self._changed:
            while len(self._waiting) < self.config.size:
                left = self._waiting[0].queued_at + self.config.timeout_seconds - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            items = self._waiting[: self.config.size]
            self._waiting = self._waiting[self.config.size :]
            if self._waiting:
                self._start_collector()
        try:
            self._run(items)
        except Exception as error:
            logger.exception("a Message Batch of %d requests failed", len(items))
            _fall_back(items, f"the batch failed: {error}")

    def _run(self, items: list[_Item]) -> None:
        requests: list[Request] = [
            {"custom_id": item.custom_id, "params": self.provider.message_params(item.request)}
            for item in items
        ]
        try:
            batch = self.client.messages.batches.create(requests=requests)
        except anthropic.APIError as error:
            _fall_back(items, f"the batch could not be created: {error}")
            return
        ended = self._until_ended(batch)
        if ended is None:
            _fall_back(items, f"batch {batch.id} did not end in time and was cancelled")
            return
        by_id = {item.custom_id: item for item in items}
        for line in self._results(ended.id):
            item = by_id.pop(line.custom_id, None)
            if item is None:
                continue
            result = line.result
            if result.type == "succeeded":
                response = response_of(
                    result.message,
                    time.monotonic() - item.queued_at,
                    request_id=f"{ended.id}/{line.custom_id}",
                )
                item.future.set_result(replace(response, batched=True))
            elif result.type == "errored":
                _fall_back([item], f"errored: {result.error.error.message}")
            else:
                _fall_back([item], result.type)
        _fall_back(list(by_id.values()), f"no result in batch {ended.id}")

    def _until_ended(self, batch: MessageBatch) -> MessageBatch | None:
        """The batch once it has ended; None when it was still running after the longest
        wait (it is cancelled then)."""
        deadline = time.monotonic() + self.config.max_wait_seconds
        while batch.processing_status != "ended":
            left = deadline - time.monotonic()
            if left <= 0:
                self._cancel(batch.id)
                return None
            time.sleep(min(self.config.poll_seconds, left))
            try:
                batch = self.client.messages.batches.retrieve(batch.id)
            except anthropic.APIError as error:
                # Asked again at the next poll: the batch runs on at the provider.
                logger.warning("Message Batch %s not retrieved: %s", batch.id, error)
        return batch

    def _cancel(self, batch_id: str) -> None:
        try:
            self.client.messages.batches.cancel(batch_id)
        except anthropic.APIError as error:
            # Its items are asked again anyway; an answer it still gives is billed twice.
            logger.warning("Message Batch %s not cancelled: %s", batch_id, error)

    def _results(self, batch_id: str) -> Iterator[MessageBatchIndividualResponse]:
        try:
            yield from self.client.messages.batches.results(batch_id)
        except anthropic.APIError as error:
            logger.warning("the results of Message Batch %s not read: %s", batch_id, error)


def _fall_back(items: list[_Item], reason: str) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_result(Fallback(reason))


_batcher: Batcher | None = None
_batcher_lock = threading.Lock()


def _batcher_for(provider: AnthropicProvider) -> Batcher:
    """This process's batcher for the provider (a new one when the provider or the batch
    settings change, or in a forked child, where the parent's threads do not run)."""
    global _batcher
    config = BatchSettings.current()
    with _batcher_lock:
        current = _batcher
        if (
            current is None
            or current.provider is not provider
            or current.config != config
            or current.pid != os.getpid()
        ):
            current = _batcher = Batcher(provider, config)
        return current
