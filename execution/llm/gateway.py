"""The one door every LLM call of the project goes through, and its guards, in order:

    trace → cache → budget reservation → batch → concurrency slot → provider

Each guard is a stage, `stage(call, next)` (execution.llm.types.Stage): it may answer
the call itself (a cache hit), refuse it, or pass it on with `next(call)`. The order is
this module's: apps plug their stage into a named place from their `AppConfig.ready()`
(`plug("budget", budget_guard)`); a place nobody filled passes the call on. The last two
are the core's own: the slot of the shared concurrency limit is taken only after the
budget has reserved (a call waiting for budget holds no slot, a cache hit takes
neither), and held only while the provider is asked (execution.runtime.concurrency). A
call that the batch stage sends in a Message Batch takes no slot either: it is not a
request against the provider's rate limit; a batch item that fails goes on to the slot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings

from execution.llm.anthropic_provider import AnthropicProvider
from execution.llm.offline import OfflineProvider, OfflineResponder
from execution.llm.types import Call, LLMProvider, LLMRequest, LLMResponse, Next, Stage, run_here
from execution.runtime.concurrency import (
    before_provider_request,
    give_back_admission,
    on_provider_status,
    slot_stage,
)

PLUGGABLE = ("trace", "cache", "budget", "batch")
"""The places apps fill, outermost first; then the concurrency slot, then the provider."""

_plugged: dict[str, Stage] = {}

# (settings key, provider, chain), replaced as one tuple: readers never take the lock.
_built: tuple[tuple[object, ...], LLMProvider, Next] | None = None
_lock = threading.Lock()


def plug(place: str, stage: Stage) -> None:
    """Fill one of the PLUGGABLE places (again: replace it)."""
    if place not in PLUGGABLE:
        raise ValueError(f"no place {place!r} in the gateway; the places are {PLUGGABLE}")
    global _built
    with _lock:
        _plugged[place] = stage
        _built = None


def stages() -> list[tuple[str, Stage]]:
    """The chain as it runs, outermost first (what the architecture page draws)."""
    plugged = [(place, _plugged[place]) for place in PLUGGABLE if place in _plugged]
    return [*plugged, ("concurrency", slot_stage), ("provider", _ask_provider)]


def _ask_provider(call: Call, next_stage: Next) -> LLMResponse:
    return get_provider().complete(call.request)


def _settings_key() -> tuple[object, ...]:
    return (
        settings.MGE_LLM_PROVIDER,
        settings.ANTHROPIC_API_KEY,
        settings.ANTHROPIC_BASE_URL,
        settings.MGE_LLM_TIMEOUT_SECONDS,
        settings.MGE_LLM_MAX_RETRIES,
        settings.MGE_OFFLINE_LATENCY_MS,
    )


def get_provider() -> LLMProvider:
    """The provider the settings name, built once per process (and again if they change)."""
    return _built_chain()[0]


def _built_chain() -> tuple[LLMProvider, Next]:
    global _built
    key = _settings_key()
    built = _built
    # Every call of a hundred atom threads passes here: the lock is for building only.
    if built is None or built[0] != key:
        with _lock:
            built = _built
            if built is None or built[0] != key:
                built = _built = (key, _build_provider(), _compose(stages()))
    return built[1], built[2]


def _compose(chain: list[tuple[str, Stage]]) -> Next:
    """One function per stage, each calling the next: built once, not per call."""

    def terminal(call: Call) -> LLMResponse:
        raise RuntimeError("the provider stage passed the call on")

    composed: Next = terminal
    for _, stage in reversed(chain):
        composed = _bind(stage, composed)
    return composed


def _bind(stage: Stage, next_stage: Next) -> Next:
    return lambda call: stage(call, next_stage)


def _build_provider() -> LLMProvider:
    if settings.MGE_LLM_PROVIDER == "anthropic":
        return AnthropicProvider(
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL,
            timeout=settings.MGE_LLM_TIMEOUT_SECONDS,
            max_retries=settings.MGE_LLM_MAX_RETRIES,
            on_status=on_provider_status,
            before_request=before_provider_request,
        )
    return OfflineProvider(
        OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR),
        latency_seconds=settings.MGE_OFFLINE_LATENCY_MS / 1000,
    )


def complete(request: LLMRequest, run_db: Callable[..., Any] = run_here) -> LLMResponse:
    """Send one request through the stages to the provider; raises LLMError when it
    fails, CallRefused when a guard refused it."""
    try:
        return _built_chain()[1](Call(request, run_db, before_wait=give_back_admission))
    finally:
        # A call answered or refused before the provider stage leaves a slot the caller
        # took ahead unused: it goes back now, not when the caller's work ends.
        give_back_admission()
