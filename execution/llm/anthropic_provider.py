"""Claude through the official SDK: its retries (429/529/5xx, honouring retry-after),
its timeouts, and the usage it reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import anthropic
from anthropic.types import Message
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

from execution.llm.prompt_cache import system_param
from execution.llm.types import LLMError, LLMRequest, LLMResponse, Usage


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        on_status: Callable[[int], None] | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        # One client per process: it owns a connection pool and is safe to share across
        # threads. The hooks run in the calling thread around every HTTP request, the SDK's
        # retries too, so a 429 can slow us down before the retries are used up.
        hooks: dict[str, list[Callable[..., None]]] = {}
        if on_status:
            hooks["response"] = [lambda response: on_status(response.status_code)]
        if before_request:
            hooks["request"] = [lambda request: before_request()]
        self.client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=anthropic.DefaultHttpxClient(event_hooks=hooks),
            # The tracing app makes each call's span (tracing/otel.py, with its cost and
            # its atom as parent); the SDK's own would go to the global tracer provider,
            # which nothing sets, at ~5 % of the SDK's CPU a call.
            open_telemetry=False,
        )

    def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        try:
            message = self.client.messages.create(**self.message_params(request))
        except anthropic.APIError as error:
            raise _llm_error(error) from error
        return response_of(
            message, time.perf_counter() - started, request_id=message._request_id or ""
        )

    def message_params(self, request: LLMRequest) -> MessageCreateParamsNonStreaming:
        """What the Messages API is sent for the request: a call's and a batch item's."""
        return {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "system": system_param(request),  # type: ignore[typeddict-item]
            "messages": request.messages,  # type: ignore[typeddict-item]
        }

    def count_tokens(self, request: LLMRequest) -> int:
        """The input tokens the request is billed for (the free token-counting endpoint)."""
        try:
            # Asked while settling a dead worker's calls, under the lease sweep's locks: a
            # provider that does not answer soon leaves the estimate to the prompt's size.
            return (
                self.client.with_options(timeout=10, max_retries=1)
                .messages.count_tokens(
                    model=request.model,
                    system=system_param(request),  # type: ignore[arg-type]
                    messages=request.messages,  # type: ignore[arg-type]
                )
                .input_tokens
            )
        except anthropic.APIError as error:
            raise _llm_error(error) from error

    def probe(self, model: str) -> None:
        """Raise LLMError unless the provider answers and knows the model (free: no tokens)."""
        try:
            # Asked once: the scheduler probes again on its next round.
            self.client.with_options(max_retries=0, timeout=10).models.retrieve(model)
        except anthropic.APIError as error:
            raise _llm_error(error) from error


def response_of(message: Message, latency_seconds: float, *, request_id: str) -> LLMResponse:
    """Our response of an SDK message: its text and its usage, the cache's included."""
    usage = message.usage
    return LLMResponse(
        text="".join(block.text for block in message.content if block.type == "text"),
        model=message.model,
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_input_tokens=usage.cache_read_input_tokens or 0,
            cache_creation_1h_input_tokens=(
                usage.cache_creation.ephemeral_1h_input_tokens if usage.cache_creation else 0
            ),
        ),
        latency_seconds=latency_seconds,
        stop_reason=message.stop_reason or "",
        request_id=request_id,
    )


def _llm_error(error: anthropic.APIError) -> LLMError:
    if isinstance(error, anthropic.APIStatusError):
        hint = WHAT_TO_FIX.get(error.status_code, "")
        return LLMError(
            f"the provider answered {error.status_code}: {message_of(error)}"
            + (f" ({hint})" if hint else ""),
            status_code=error.status_code,
            retry_after_seconds=_retry_after(error.response.headers),
            request_id=error.request_id or "",
        )
    if isinstance(error, anthropic.APITimeoutError):
        return LLMError("the provider did not answer in time")
    return LLMError(f"could not reach the provider: {error}")


WHAT_TO_FIX = {
    400: "the request is malformed or too long for the model",
    401: "check ANTHROPIC_API_KEY",
    403: "the key may not use this model or feature",
    404: "check the model name (the document's `model`, or MGE_MODEL_BY_COMPLEXITY)",
    413: "the request is over the provider's size limit",
}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """retry-after-ms, or retry-after in seconds (the HTTP-date form is not used here)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return max(float(headers[name]) / scale, 0.0)
        except (KeyError, ValueError):
            continue
    return None


def message_of(error: anthropic.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", error.message))
    return error.message
