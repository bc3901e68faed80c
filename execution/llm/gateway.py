"""The one door every LLM call of the project goes through.

Budget reservations, caching, the concurrency limiter and tracing wrap `complete`, so no
caller may talk to a provider directly.
"""

from __future__ import annotations

import threading

from django.conf import settings

from execution.llm.anthropic_provider import AnthropicProvider
from execution.llm.offline import OfflineProvider, OfflineResponder
from execution.llm.types import LLMProvider, LLMRequest, LLMResponse

_provider: LLMProvider | None = None
_provider_key: tuple[object, ...] | None = None
_lock = threading.Lock()


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
    global _provider, _provider_key
    key = _settings_key()
    with _lock:
        if _provider is None or _provider_key != key:
            _provider = _build_provider()
            _provider_key = key
        return _provider


def _build_provider() -> LLMProvider:
    if settings.MGE_LLM_PROVIDER == "anthropic":
        return AnthropicProvider(
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL,
            timeout=settings.MGE_LLM_TIMEOUT_SECONDS,
            max_retries=settings.MGE_LLM_MAX_RETRIES,
        )
    return OfflineProvider(
        OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR),
        latency_seconds=settings.MGE_OFFLINE_LATENCY_MS / 1000,
    )


def complete(request: LLMRequest) -> LLMResponse:
    """Send one request to the configured provider; raises LLMError when it fails."""
    return get_provider().complete(request)
