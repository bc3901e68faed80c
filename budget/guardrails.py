"""The budget around every LLM call: reserve the worst case, call, settle the real cost.

`budget_guard` is the gateway's budget stage (plugged in by BudgetConfig.ready; it runs
after the cache and before the concurrency slot). Reserving before the call is what
keeps the hard cap: two workers that check first and charge later can both pass a
nearly-full budget; a reservation that does not fit is refused atomically.
"""

from __future__ import annotations

import dataclasses
import random
import time
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from budget.alerts import raise_alert
from budget.counters import BudgetCounters, MasterPlanId, Refusal
from budget.holders import Holder
from budget.ledger import correct_estimate, record_cost
from budget.models import BudgetAlert, CostEntry
from budget.overrides import issue_code, two_person_rule
from budget.pricing import cost_of, worst_case_cost
from execution import events
from execution.llm.types import Call, CallRefused, LLMRequest, LLMResponse, Next
from execution.models import MasterPlan
from execution.runtime import lifecycle

# Tokens a message's framing (role markers) adds, on top of its text.
_FRAMING_TOKENS = 16


class BudgetExceeded(CallRefused):
    pass


def input_bound(request: LLMRequest) -> int:
    """An upper bound of the input tokens: a token covers at least one byte of text."""
    texts = request.input_texts()
    return sum(len(text.encode("utf-8")) + _FRAMING_TOKENS for text in texts)


def budget_guard(call: Call, next_stage: Next) -> LLMResponse:
    request = call.request
    if request.masterplan_id is None:
        return next_stage(call)
    counters = BudgetCounters()
    worst = worst_case_cost(request.model, input_bound(request), request.max_tokens)
    holder = Holder.of(request, worst).to_json()
    waiting = time.perf_counter()
    reservation = _reserve(counters, request.masterplan_id, worst, holder, call)
    waited_ms = (time.perf_counter() - waiting) * 1000
    if isinstance(reservation, Refusal):
        events.emit(
            "budget_refused", worst_usd=str(worst), spent_usd=str(reservation.spent_usd),
            hard_cap_usd=str(reservation.hard_cap_usd), duration_ms=waited_ms,
        )  # fmt: skip
        call.run_db(pause_for_budget, request.masterplan_id, worst, reservation)
        raise BudgetExceeded(
            f"the call could cost up to ${worst} and does not fit under the hard cap"
        )
    events.emit("budget_reserved", worst_usd=str(worst), duration_ms=waited_ms)
    try:
        response = next_stage(call)
    except Exception:
        # The provider answered with an error (after the SDK's retries), or the call never
        # left (no slot: Redis down): not billed. Left open, the reservation would be
        # charged in full when it expires, for a call that was not made.
        if counters.settle(request.masterplan_id, reservation, Decimal(0)) is None:
            # Estimated meanwhile (the lease lapsed): the call cost nothing after all.
            nothing = LLMResponse(text="", model=request.model)
            call.run_db(settle_late, request.masterplan_id, reservation, nothing, Decimal(0))
        events.emit("budget_settled", charged_usd="0", worst_usd=str(worst), billed=False)
        raise
    # Reserved at the full price (a batch item that fails is asked again with a normal
    # call), settled at what was billed: an answer from a Message Batch at the batch price.
    cost = cost_of(request.model, response.usage, batch=response.batched)
    settled = counters.settle(request.masterplan_id, reservation, cost)
    response = dataclasses.replace(response, cost_usd=cost)
    if settled is None:
        # Settled already, at an estimate: this worker was thought dead (its lease lapsed)
        # but was only slow. The provider billed this answer: the estimate takes its figures.
        call.run_db(settle_late, request.masterplan_id, reservation, response, cost)
        events.emit("budget_settled", charged_usd=str(cost), worst_usd=str(worst), late=True)
        return response
    events.emit("budget_settled", charged_usd=str(settled.charged_usd), worst_usd=str(worst))
    call.run_db(record_cost, request, response, settled.charged_usd, worst, reservation)
    if settled.spent_usd >= settled.soft_cap_usd:
        call.run_db(alert_soft_cap, request.masterplan_id, settled.spent_usd)
    return response


def settle_late(
    masterplan_id: MasterPlanId, reservation_id: str, response: LLMResponse, cost: Decimal
) -> None:
    change = correct_estimate(reservation_id, response.usage, cost, batch=response.batched)
    if change:
        BudgetCounters().add_spent(masterplan_id, change)


def _reserve(
    counters: BudgetCounters, masterplan_id: str, worst: Decimal, holder: str, call: Call
) -> str | Refusal:
    """A reservation, or the Refusal when even after every call in flight settles there
    is no room for this one.

    A refusal while other calls are in flight waits for them: their reservations are
    worst cases and usually settle far lower. Pausing at the first refusal would leave
    most of the budget unused. A call that waits holds no concurrency slot. The decision
    reads the figures the refusal itself saw: a second read could find the others settled
    and their reservations gone, and pause for a call that now fits.
    """
    ttl = settings.MGE_BUDGET_RESERVATION_TTL_SECONDS
    deadline = time.monotonic() + ttl
    while True:
        try:
            reservation = counters.reserve(masterplan_id, worst, ttl, holder)
        except LookupError:
            call.run_db(load_counters, masterplan_id, counters)
            continue
        if isinstance(reservation, str):
            return reservation
        if not reservation.fits_once_settled(worst) or time.monotonic() > deadline:
            return reservation
        call.before_wait()
        time.sleep(random.uniform(0.05, 0.15))  # jittered: refused callers do not retry in step


def load_counters(masterplan_id: MasterPlanId, counters: BudgetCounters | None = None) -> None:
    """Fill a plan's Redis counters from the database (the first call, or after a loss)."""
    masterplan = MasterPlan.objects.get(pk=masterplan_id)
    spent = CostEntry.objects.filter(masterplan=masterplan).total()
    (counters or BudgetCounters()).load(
        masterplan.pk, masterplan.budget_hard_cap_usd, masterplan.budget_soft_cap_usd, spent
    )


def alert_soft_cap(masterplan_id: MasterPlanId, spent: Decimal) -> None:
    masterplan = MasterPlan.objects.get(pk=masterplan_id)
    cap = masterplan.budget_soft_cap_usd
    if spent < cap:
        return  # the cap was raised since
    raise_alert(
        masterplan,
        BudgetAlert.Level.WARNING,
        cap,
        spent,
        f"soft cap ${cap} crossed: ${spent} of ${masterplan.budget_hard_cap_usd} spent; "
        "execution continues.",
    )


def pause_for_budget(masterplan_id: MasterPlanId, needed: Decimal, refusal: Refusal) -> bool:
    """Pause a running plan whose next call does not fit; True if this call paused it. The
    status line gives the figures the refusal was decided on."""
    spent, reserved = refusal.spent_usd, refusal.reserved_usd
    with transaction.atomic():
        # Locked first: the cap the status line names is the one in force at the pause.
        cap = (
            MasterPlan.objects.select_for_update()
            .values_list("budget_hard_cap_usd", flat=True)
            .get(pk=masterplan_id)
        )
        reason = (
            f"Paused at the hard cap: ${spent} spent and ${reserved} reserved of ${cap}; the "
            f"next call could cost up to ${needed}. A budget approver can raise the cap."
        )
        masterplan = lifecycle.pause_for_budget(masterplan_id, reason)
        if masterplan is None:
            return False
        if two_person_rule():
            # A code mailed to every approver would let any one of them override alone.
            extra = ("To raise the cap, one approver asks for a code on the budget page; it "
                     "is mailed to the others, and one of them confirms.")  # fmt: skip
        else:
            code, expires_at = issue_code(masterplan)
            extra = (f"Confirmation code to raise the cap: {code} (valid until "
                     f"{expires_at:%Y-%m-%d %H:%M} UTC, once).")  # fmt: skip
        raise_alert(
            masterplan,
            BudgetAlert.Level.CRITICAL,
            masterplan.budget_hard_cap_usd,
            spent,
            reason,
            extra_mail_text=extra,
        )
    return True
