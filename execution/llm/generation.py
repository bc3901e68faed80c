"""Ask the LLM for a file, check the answer, retry with what was wrong: the loop that
atoms and acceptance tests (and anything later) share.

The answer must hold a code block, and the code must pass `validate` (L1 by default:
it parses). A failed check is fed back in the next request, up to `max_attempts`. The
provider failing (after the SDK's own retries) or a guard refusing the call ends the
loop; the outcome says which, and what the attempts so far cost, so the caller decides:
the engine fails or releases the atom, test generation falls back to a template.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from execution import events
from execution.llm import gateway
from execution.llm.prompts import NoCodeBlock, extract_code
from execution.llm.types import LLMError, LLMRequest, run_here
from execution.llm.validation import code_problem, syntax_error


@dataclass
class Generated:
    code: str | None = None
    """The accepted code; None when no attempt gave a valid answer."""
    attempts: int = 0
    """The attempt that ended the loop (counting from `first_attempt`)."""
    errors: list[str] = field(default_factory=list)
    """What was wrong with each rejected answer, and the provider's error, in order."""
    rejected_code: str = ""
    """The last answer's code that did not pass the check (kept for the record)."""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    placeholder: bool = False
    """The accepted code is the offline provider's stand-in, not generated code."""
    stopped_by: LLMError | None = None
    """The provider's error, or CallRefused when a guard refused the call."""
    provider_retries: int = 0
    """Calls asked again after a transient provider error (not counted as attempts)."""
    provider_trouble_since: float | None = None
    """Epoch seconds of the first transient provider error of the loop."""


def parses(language: str, file_path: str) -> Callable[[str], str | None]:
    """The L1 check: None when the code parses, else the problem."""

    def check(code: str) -> str | None:
        problem = syntax_error(language, file_path, code)
        return problem and f"{file_path} does not parse: {problem}"

    return check


def passes_l1(language: str, file_path: str) -> Callable[[str], str | None]:
    """The L1 check of an atom's file: it parses, and no registered check fails it."""

    def check(code: str) -> str | None:
        return code_problem(language, file_path, code)

    return check


def generate_code(
    request_for: Callable[[Sequence[str]], LLMRequest],
    *,
    language: str,
    validate: Callable[[str], str | None],
    max_attempts: int,
    first_attempt: int = 1,
    run_db: Callable[..., Any] = run_here,
    before_retry: Callable[[int], None] | None = None,
    on_provider_retry: Callable[[int], None] | None = None,
) -> Generated:
    """Ask (`request_for(errors so far)`), check, retry with the errors fed back.

    `before_retry(attempt)` runs before each new attempt's call: the engine counts it in
    the database first, so a worker that dies mid-call has used it. A transient provider
    error is asked again after a backoff (`on_provider_retry(count)` first), within
    MGE_LLM_PROVIDER_RETRIES and MGE_LLM_PROVIDER_RETRY_SECONDS; no concurrency slot is
    held while waiting (the gateway gave it back when the provider answered)."""
    outcome = Generated(attempts=first_attempt)
    retry_deadline = time.monotonic() + settings.MGE_LLM_PROVIDER_RETRY_SECONDS
    while True:
        try:
            response = gateway.complete(request_for(outcome.errors), run_db)
        except LLMError as error:
            if error.transient and outcome.provider_trouble_since is None:
                outcome.provider_trouble_since = time.time()
            pause = _backoff(error, outcome.provider_retries + 1, retry_deadline)
            if pause is not None:
                outcome.provider_retries += 1
                events.emit(
                    "provider_retry", error=str(error), status_code=error.status_code,
                    pause_ms=round(pause * 1000, 1), retry=outcome.provider_retries,
                )  # fmt: skip
                if on_provider_retry:
                    on_provider_retry(outcome.provider_retries)
                time.sleep(pause)
                continue
            outcome.stopped_by = error
            outcome.errors.append(
                str(error)
                + (
                    f" (asked {outcome.provider_retries} more times after a pause)"
                    if outcome.provider_retries
                    else ""
                )
            )
            return outcome
        outcome.input_tokens += response.usage.input_tokens
        outcome.output_tokens += response.usage.output_tokens
        outcome.cost_usd += response.cost_usd or 0
        reason = "validation"
        checking = time.perf_counter()
        try:
            code = extract_code(response.text, language)
        except NoCodeBlock as error:
            problem: str | None = str(error)
            reason = "unparsable answer"
        else:
            problem = validate(code)
            events.emit(
                "validation", level=1, passed=problem is None,
                findings=[problem] if problem else [], attempt=outcome.attempts,
                duration_ms=(time.perf_counter() - checking) * 1000,
            )  # fmt: skip
            if problem is None:
                outcome.code = code
                outcome.placeholder = response.placeholder
                return outcome
            outcome.rejected_code = code
        outcome.errors.append(problem or "")
        if outcome.attempts >= max_attempts:
            return outcome
        outcome.attempts += 1
        events.emit("retry", reason=reason, error=problem or "", attempt=outcome.attempts)
        if before_retry:
            before_retry(outcome.attempts)


def _backoff(error: LLMError, retry: int, deadline: float) -> float | None:
    """Seconds to wait before asking again, or None to give up: the error is not
    transient, or the retries or their time are used up. Full jitter (a random wait up to
    base × 2^(retry−1), capped), never less than the provider's retry-after."""
    if not error.transient or retry > settings.MGE_LLM_PROVIDER_RETRIES:
        return None
    ceiling = min(
        float(settings.MGE_LLM_BACKOFF_MAX_SECONDS),
        float(settings.MGE_LLM_BACKOFF_BASE_SECONDS) * 2 ** (retry - 1),
    )
    pause = max(random.uniform(0, ceiling), error.retry_after_seconds or 0.0)
    return pause if time.monotonic() + pause < deadline else None
