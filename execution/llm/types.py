"""What goes into and comes out of an LLM call, whichever provider answers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class LLMRequest:
    model: str
    system: str
    messages: list[dict[str, str]]
    max_tokens: int
    purpose: str = "atom"
    """What the call is for (atom, test-generation, classification); for accounting."""
    masterplan_id: str | None = None
    atom_id: str | None = None
    wave_id: str | None = None
    shared_context: str = ""
    """What the plan's requests share after the system prompt (its overview, the code base
    a test is written against): sent before the messages, for the provider's prompt cache
    (execution.llm.prompt_cache)."""
    template_version: str = ""
    """The prompt template's version: a new one must not be answered from the cache."""
    cache: str = "use"
    """The response cache for this call: `use`; `no-cache` (ask the model, keep the answer:
    a regeneration); `no-store` (neither read nor keep)."""
    batch: bool = False
    """Not latency-bound: the call may wait in a Message Batch, answered at the batch price
    (caching.batches; test generation and classification, MGE_LLM_BATCH_PURPOSES)."""

    def input_texts(self) -> list[str]:
        """Every text the provider bills as input tokens."""
        return [
            self.system,
            self.shared_context,
            *(str(message.get("content", "")) for message in self.messages),
        ]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    """Every token written to the prompt cache, whatever its TTL."""
    cache_read_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    """Of the cache writes, those kept for an hour (dearer than the 5-minute ones)."""


@dataclass(frozen=True)
class LLMResponse:
    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    latency_seconds: float = 0.0
    stop_reason: str = "end_turn"
    cost_usd: Decimal | None = None
    """What the call cost, when a stage priced it (the budget does; a cache hit is $0)."""
    cache_hit: bool = False
    request_id: str = ""
    """The provider's id of the request (its `request-id` header), for its support."""
    placeholder: bool = False
    """Not an answer: the offline provider's stand-in code for a file it has no response
    for. Marked on the atom ("offline placeholder"), never cached."""
    batched: bool = False
    """Answered as an item of a Message Batch: billed at the batch price."""


TRANSIENT_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class LLMError(Exception):
    """The provider did not answer (after its own retries); the message says why."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after_seconds: float | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after_seconds = retry_after_seconds
        self.request_id = request_id

    @property
    def transient(self) -> bool:
        """Worth asking again after a pause: rate limited, overloaded, a server error, or
        no answer at all (a timeout, a dropped connection). A 400, 401, 403, 404 or 413
        would be answered the same again."""
        if self.status_code is None:
            return True
        return self.status_code in TRANSIENT_STATUSES or self.status_code >= 500


class CallRefused(LLMError):
    """A guard (the budget) refused the call before it reached the provider; the masterplan
    has been paused, and the atom should wait rather than fail."""

    @property
    def transient(self) -> bool:
        return False


class LLMProvider(Protocol):
    name: str

    def complete(self, request: LLMRequest) -> LLMResponse: ...

    def count_tokens(self, request: LLMRequest) -> int:
        """The input tokens the provider would bill for the request."""
        ...

    def probe(self, model: str) -> None:
        """Return if the provider answers again (and knows the model), else raise LLMError."""
        ...


def run_here(function: Callable[..., Any], *args: Any) -> Any:
    """Run database work in the calling thread (callers without a database lane)."""
    return function(*args)


def _nothing() -> None:
    return None


@dataclass
class Call:
    """One call on its way through the gateway's stages."""

    request: LLMRequest
    run_db: Callable[..., Any] = run_here
    """Runs database work the way the caller wants it run (the engine's database lane), so
    a stage never opens connections in the caller's threads: `run_db(function, *args)`."""
    before_wait: Callable[[], None] = _nothing
    """A stage calls this before it waits (the budget for a reservation): the concurrency
    slot the caller took ahead is given back, so a waiting call holds no slot."""


Next = Callable[[Call], LLMResponse]
Stage = Callable[[Call, Next], LLMResponse]
"""A guard of the gateway: handle the call, passing it on with `next(call)` (or not)."""
