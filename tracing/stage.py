"""The gateway's trace stage (outermost): every LLM call of a traced execution becomes an
`llm_call` event — what was asked, what came back or went wrong, its tokens and time —
whether the provider or the cache answered it."""

from __future__ import annotations

import time
from typing import Any

from execution import events
from execution.llm.types import Call, CallRefused, LLMError, LLMResponse, Next, Usage
from tracing.service import clip


def trace_stage(call: Call, next_stage: Next) -> LLMResponse:
    if not events.listening():
        return next_stage(call)
    request = call.request
    asked: dict[str, Any] = {
        "model": request.model,
        "purpose": request.purpose,
        "max_tokens": request.max_tokens,
        "cache_mode": request.cache,
        "prompt": clip(str(request.messages[-1].get("content", "")) if request.messages else ""),
    }
    started = time.perf_counter()
    try:
        response = next_stage(call)
    except LLMError as error:
        events.emit(
            "llm_call",
            **asked,
            duration_ms=(time.perf_counter() - started) * 1000,
            error=str(error),
            status_code=error.status_code,
            request_id=error.request_id,
            refused=isinstance(error, CallRefused),
        )
        raise
    # A cache hit asked nobody: no tokens were billed for it.
    usage = Usage() if response.cache_hit else response.usage
    events.emit(
        "llm_call",
        **asked,
        duration_ms=(time.perf_counter() - started) * 1000,
        answered_by=response.model,
        cache_hit=response.cache_hit,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cost_usd=str(response.cost_usd or 0),
        latency_ms=round(response.latency_seconds * 1000, 3),
        stop_reason=response.stop_reason,
        request_id=response.request_id,
        placeholder=response.placeholder,
        response=clip(response.text),
    )
    return response
