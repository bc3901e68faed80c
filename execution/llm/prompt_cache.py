"""Provider prompt caching: the prefix a plan's requests share — the system prompt, then
the plan's shared context (its overview for atoms, the code base for acceptance tests) —
is sent as system blocks ending in a `cache_control` breakpoint, so the provider bills the
first request a cache write and the following ones a cache read (a tenth of the input
price) instead of the whole prefix again.

The prefix comes first and is byte-identical across the plan's requests: everything that
differs (the atom, its dependencies, the errors fed back) is in the user message after it.
A prefix shorter than the model's minimum cacheable length is not marked — the provider
would process it at full price anyway, and the mark would promise a saving that cannot
happen. The length is estimated low (four characters a token; code has fewer), so a mark
is only ever set on a prefix long enough.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from execution.llm.types import LLMRequest

MIN_CACHEABLE_TOKENS = {
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 2048,
    "claude-sonnet-4-5": 1024,
    "claude-sonnet-4": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
"""The provider's minimum prompt length a cache breakpoint takes effect at, per model
family (a dated model name starts with its family's)."""
UNKNOWN_MODEL_MIN_TOKENS = 4096
"""The largest minimum: a model not listed is marked only when any model could cache it."""
CHARS_PER_TOKEN = 4
TTL_SECONDS = {"5m": 300, "1h": 3600}


def min_cacheable_tokens(model: str) -> int:
    families = [family for family in MIN_CACHEABLE_TOKENS if model.startswith(family)]
    if not families:
        return UNKNOWN_MODEL_MIN_TOKENS
    return MIN_CACHEABLE_TOKENS[max(families, key=len)]


def prefix_tokens(request: LLMRequest) -> int:
    """At most the tokens of the shared prefix (fewer characters a token are likelier)."""
    return (len(request.system) + len(request.shared_context)) // CHARS_PER_TOKEN


def marked(request: LLMRequest) -> bool:
    """Whether the request's prefix is sent with a cache breakpoint."""
    return (
        settings.MGE_PROMPT_CACHE == "on"
        and bool(request.shared_context)
        and prefix_tokens(request) >= min_cacheable_tokens(request.model)
    )


def system_param(request: LLMRequest) -> str | list[dict[str, Any]]:
    """The Messages API's `system`: the prompt alone, or the prompt and the shared context
    as two blocks, the second with the breakpoint when the prefix can be cached."""
    if not request.shared_context:
        return request.system
    context: dict[str, Any] = {"type": "text", "text": request.shared_context}
    if marked(request):
        context["cache_control"] = {"type": "ephemeral", "ttl": settings.MGE_PROMPT_CACHE_TTL}
    return [{"type": "text", "text": request.system}, context]
