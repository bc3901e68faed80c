"""Calls whose worker died mid-call: settled soon, at an estimate, corrected when the
truth is known.

A worker killed while its calls are at the provider leaves their reservations open. The
provider has probably billed them, so charging nothing would let spend pass the hard cap
unseen; charging what the reservation holds (the worst case) overstates it tens of times.
They are settled as soon as the death is noticed — the atom's lease lapses
(`execution.signals.atoms_abandoned`), or, for a call without an atom, the reservation's
TTL — at an estimate: the request's exact input tokens (the provider counts the prompt
the reservation kept) and, for the output, the median of the plan's settled calls of the
same model (the whole `max_tokens` when there are none). Until then the worst case stays
reserved, so the hard cap holds. The entry is `estimated`; the answer of a worker that
was only slow (budget.guardrails.settle_late) or the provider's usage report
(budget.reconcile) corrects it.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from dataclasses import dataclass
from decimal import Decimal

from budget.counters import BudgetCounters, MasterPlanId
from budget.holders import Holder
from budget.ledger import record_cost
from budget.models import CostEntry
from budget.pricing import cost_of
from execution.llm import gateway
from execution.llm.types import LLMError, LLMRequest, LLMResponse, Usage
from execution.models import MasterPlan

logger = logging.getLogger(__name__)

# The recent settled calls whose median output estimates a lost one.
_OUTPUT_SAMPLE = 200


@dataclass(frozen=True)
class Estimate:
    usage: Usage
    cost_usd: Decimal
    basis: str


def settle_abandoned_calls(masterplan_id: MasterPlanId, atom_ids: list[str]) -> int:
    """The calls in flight of atoms whose worker died, settled at an estimate; returns
    how many. Run while those atoms are locked and still running (the lease sweep's
    transaction): no new worker holds them yet, so every open call of theirs is lost."""
    counters = BudgetCounters()
    wanted = set(atom_ids)
    settled = 0
    for reservation_id, text in counters.holders(masterplan_id).items():
        holder = Holder.from_json(text)
        if holder is not None and holder.atom_id in wanted:
            settled += settle_at_estimate(counters, masterplan_id, reservation_id, holder)
    if settled:
        logger.warning("settled %d calls of a dead worker at an estimate", settled)
    return settled


def settle_expired(counters: BudgetCounters | None = None) -> int:
    """Reservations past their TTL (a dead worker's calls that had no atom, or whose
    sweep did not run), settled at an estimate. Returns how many."""
    counters = counters or BudgetCounters()
    settled = 0
    for masterplan_id, reservation_id in counters.expired():
        holder = Holder.from_json(counters.holder(masterplan_id, reservation_id) or "")
        settled += settle_at_estimate(counters, masterplan_id, reservation_id, holder)
    return settled


def settle_at_estimate(
    counters: BudgetCounters,
    masterplan_id: MasterPlanId,
    reservation_id: str,
    holder: Holder | None,
) -> bool:
    """Charge one open reservation its estimate and write the `estimated` entry; False when
    it was settled meanwhile (its worker answered after all) or its plan is gone."""
    if not MasterPlan.objects.filter(pk=masterplan_id).exists():
        counters.settle(masterplan_id, reservation_id, None)
        return False
    estimate = estimate_call(str(masterplan_id), holder)
    settled = counters.settle(
        masterplan_id, reservation_id, None if holder is None else estimate.cost_usd
    )
    if settled is None:
        return False
    model = holder.model if holder else "unknown"
    request = (
        holder.request(str(masterplan_id))
        if holder
        else LLMRequest(model=model, system="", messages=[], max_tokens=0,
                        masterplan_id=str(masterplan_id))
    )  # fmt: skip
    record_cost(
        request,
        LLMResponse(text="", model=model, usage=estimate.usage),
        settled.charged_usd,
        holder.worst_usd if holder else settled.charged_usd,
        reservation_id,
        kind=CostEntry.Kind.ESTIMATED,
        requested_at=dt.datetime.fromtimestamp(holder.requested_at, dt.UTC) if holder else None,
    )
    logger.info("estimated %s: $%s (%s)", reservation_id, settled.charged_usd, estimate.basis)
    return True


def estimate_call(masterplan_id: str, holder: Holder | None) -> Estimate:
    """What a call that never reported its usage most likely cost."""
    if holder is None:  # nothing kept: only the reservation's amount is known
        return Estimate(Usage(), Decimal(0), "the amount reserved")
    request = holder.request(masterplan_id)
    try:
        input_tokens, input_basis = gateway.get_provider().count_tokens(request), "counted"
    except LLMError as error:
        # The prompt's size in bytes: no token is shorter than a byte.
        input_tokens = sum(len(text.encode()) for text in request.input_texts())
        input_basis = f"bounded by its bytes ({error})"
    outputs = list(
        CostEntry.objects.filter(
            masterplan_id=masterplan_id, model=holder.model, kind=CostEntry.Kind.SETTLED,
            cache_hit=False, output_tokens__gt=0,
        ).order_by("-created_at").values_list("output_tokens", flat=True)[:_OUTPUT_SAMPLE]
    )  # fmt: skip
    if outputs:
        output_tokens = int(statistics.median(outputs))
        output_basis = f"the median of {len(outputs)} settled calls"
    else:
        output_tokens, output_basis = holder.max_tokens, "max_tokens (no settled call yet)"
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    cost = min(cost_of(holder.model, usage), holder.worst_usd)
    return Estimate(usage, cost, f"input {input_basis}; output {output_basis}")
