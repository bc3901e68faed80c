"""The one door every LLM call of the project goes through.

Budget reservations, caching, the concurrency limiter and tracing wrap the provider as
middleware (settings.MGE_LLM_MIDDLEWARE, outermost first): each is a function that takes
the next `call(request, run_db)` and returns a wrapped one. `run_db(function, *args)` runs
database work the way the caller wants it run (the engine's database lane), so a
middleware never opens connections in the caller's threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from execution.concurrency import before_provider_request, on_provider_status
from execution.llm.anthropic_provider import AnthropicProvider
from execution.llm.offline import OfflineProvider, OfflineResponder
from execution.llm.types import LLMProvider, LLMRequest, LLMResponse

Call = Callable[[LLMRequest, Callable[..., Any]], LLMResponse]

# (settings key, provider, call), replaced as one tuple: readers never take the lock.
_built: tuple[tuple[object, ...], LLMProvider, Call] | None = None
_lock = threading.Lock()


def _settings_key() -> tuple[object, ...]:
    return (
        settings.MGE_LLM_PROVIDER,
        settings.ANTHROPIC_API_KEY,
        settings.ANTHROPIC_BASE_URL,
        settings.MGE_LLM_TIMEOUT_SECONDS,
        settings.MGE_LLM_MAX_RETRIES,
        settings.MGE_OFFLINE_LATENCY_MS,
        tuple(settings.MGE_LLM_MIDDLEWARE),
    )


def get_provider() -> LLMProvider:
    """The provider the settings name, built once per process (and again if they change)."""
    return _chain()[0]


def _chain() -> tuple[LLMProvider, Call]:
    global _built
    key = _settings_key()
    built = _built
    # Every call of a hundred atom threads passes here: the lock is for building only.
    if built is None or built[0] != key:
        with _lock:
            built = _built
            if built is None or built[0] != key:
                provider = _build_provider()
                call: Call = lambda request, run_db: provider.complete(request)  # noqa: E731
                for path in reversed(settings.MGE_LLM_MIDDLEWARE):
                    call = import_string(path)(call)
                built = _built = (key, provider, call)
    return built[1], built[2]


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


def _run_here(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


def complete(request: LLMRequest, run_db: Callable[..., Any] = _run_here) -> LLMResponse:
    """Send one request through the middleware to the provider; raises LLMError when it
    fails, CallRefused when a guard refused it."""
    return _chain()[1](request, run_db)
