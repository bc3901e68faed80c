"""The stub server's prompt cache, as the Messages API documents it: a request's system
blocks up to the last one with `cache_control` are its cached prefix; the first request
with that prefix (per model) writes it, a later one within its TTL (refreshed by every
read) reads it; a prefix under the model's minimum cacheable length is not cached at all.
Input tokens are what is not cached, as the API counts them."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from typing import Any

from execution.llm.offline import estimate_tokens
from execution.llm.prompt_cache import TTL_SECONDS, min_cacheable_tokens
from execution.llm.types import Usage


def system_text(system: object) -> str:
    """The system prompt's text, whether sent as a string or as text blocks."""
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "".join(str(block.get("text", "")) for block in system if isinstance(block, dict))
    return ""


def _cached_prefix(system: object) -> tuple[str, str] | None:
    """The text of the blocks up to the last breakpoint, and its TTL."""
    if not isinstance(system, list):
        return None
    marks = [
        index for index, block in enumerate(system)
        if isinstance(block, dict) and isinstance(block.get("cache_control"), dict)
    ]  # fmt: skip
    if not marks:
        return None
    ttl = str(system[marks[-1]]["cache_control"].get("ttl", "5m"))
    return system_text(system[: marks[-1] + 1]), ttl


class StubPromptCache:
    def __init__(self) -> None:
        self._expires: dict[str, float] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._expires.clear()

    def apply(self, body: dict[str, Any], usage: Usage) -> Usage:
        """The usage of an answer to `body`, its cached prefix read or written."""
        found = _cached_prefix(body.get("system"))
        if found is None:
            return usage
        prefix, ttl = found
        tokens = estimate_tokens(prefix)
        model = str(body.get("model", ""))
        if tokens < min_cacheable_tokens(model) or ttl not in TTL_SECONDS:
            return usage
        key = hashlib.sha256(f"{model}\0{prefix}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            read = self._expires.get(key, 0.0) > now
            self._expires[key] = now + TTL_SECONDS[ttl]
        uncached = max(usage.input_tokens - tokens, 0)
        if read:
            return dataclasses.replace(usage, input_tokens=uncached, cache_read_input_tokens=tokens)
        return dataclasses.replace(
            usage,
            input_tokens=uncached,
            cache_creation_input_tokens=tokens,
            cache_creation_1h_input_tokens=tokens if ttl == "1h" else 0,
        )
