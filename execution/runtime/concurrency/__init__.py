"""One concurrency limit for LLM calls, shared by every worker on every machine.

The limit and the slots live in Redis. A slot is a lease (a sorted-set member scored by
its expiry), so a crashed worker's slots come back by themselves; taking one is a Lua
script that drops expired leases and admits only below the limit. The seed's sketch kept
an asyncio.Semaphore per process and replaced it on every change, which forgot the
holders in flight and multiplied the limit by the number of processes.

The limit moves on two clocks. Every MGE_CONCURRENCY_ADJUST_SECONDS `adjust` applies the
seed's rules to measured signals (LLM and database latency kept in Redis, the budget
left). Between those, the provider's own answers drive it, AIMD-style: a 429/529 cuts
the limit at once to 90 % of what was in flight when it came (the provider told us what
it holds; once per congestion event: not again for requests sent before the cut, as
TCP), and calls that succeed while at least half the slots are busy probe upwards by one
slot per `limit` successes (TCP's additive increase). Growth stops one slot below the
limit in force when the provider last refused, for one adjustment period (the `ceiling`,
as TCP CUBIC plateaus below its last loss): every refusal costs its call the whole
retry-after, and one landing in the last second of a wave holds up the next wave, so
probing past a known ceiling again and again costs more than its extra slot earns. A
call refused with 429 gives its slot back while the SDK waits out retry-after, and its
retry queues for a slot again: the retries of a burst pass through the lowered limit
instead of hammering the provider.
"""

from __future__ import annotations

from execution.runtime.concurrency.limiter import (
    HISTORY_SECONDS,
    SAMPLES_KEPT,
    ConcurrencyLimiter,
)
from execution.runtime.concurrency.policy import Adjustment, next_limit, percentile
from execution.runtime.concurrency.stage import (
    adjust_limit,
    before_provider_request,
    budget_remaining_pct,
    give_back_admission,
    on_provider_status,
    sample_concurrency,
    slot_held,
    slot_stage,
    use_budget_signal,
)

__all__ = [
    "HISTORY_SECONDS", "SAMPLES_KEPT", "Adjustment", "ConcurrencyLimiter", "adjust_limit",
    "before_provider_request", "budget_remaining_pct", "give_back_admission", "next_limit",
    "on_provider_status", "percentile", "sample_concurrency", "slot_held", "slot_stage",
    "use_budget_signal",
]  # fmt: skip
