"""Raising a paused plan's hard cap: one-time confirmation codes and the audited override."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from budget.counters import MasterPlanId, sync_caps
from budget.models import BudgetOverride, CostEntry, OverrideCode
from execution.models import MasterPlan
from execution.runtime import jobs, lifecycle

CODE_LIFETIME = dt.timedelta(minutes=15)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a mail or a page


class CodeRejected(Exception):
    """Wrong, expired or already used (HTTP 403)."""


class CapTooLow(Exception):
    """The new hard cap does not exceed what is spent (HTTP 400)."""


def _hash(code: str) -> str:
    normalised = code.strip().upper().replace("-", "")
    return hmac.new(settings.SECRET_KEY.encode(), normalised.encode(), hashlib.sha256).hexdigest()


def issue_code(masterplan: MasterPlan) -> tuple[str, dt.datetime]:
    """A new code for this plan (earlier unused ones stay valid until they expire)."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    expires_at = timezone.now() + CODE_LIFETIME
    OverrideCode.objects.create(masterplan=masterplan, code_hash=_hash(code), expires_at=expires_at)
    return f"{code[:4]}-{code[4:]}", expires_at


def override_hard_cap(
    masterplan_id: MasterPlanId,
    user: User,
    new_hard_cap: Decimal,
    confirmation_code: str,
    reason: str = "",
) -> BudgetOverride:
    """Raise the hard cap, spending the code (`override_and_resume` resumes the plan)."""
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        code = (
            OverrideCode.objects.select_for_update()
            .filter(masterplan=masterplan, code_hash=_hash(confirmation_code))
            .first()
        )
        if code is None:
            raise CodeRejected("the confirmation code is not valid for this masterplan")
        if code.used_at is not None:
            raise CodeRejected("the confirmation code was already used; ask for a new one")
        if code.expires_at <= timezone.now():
            raise CodeRejected("the confirmation code expired; ask for a new one")
        spent = CostEntry.objects.filter(masterplan=masterplan).total()
        if new_hard_cap <= spent:
            raise CapTooLow(
                f"the new hard cap (${new_hard_cap}) must exceed what is spent (${spent})"
            )
        if new_hard_cap <= masterplan.budget_hard_cap_usd:
            raise CapTooLow(
                f"an override raises the hard cap: ${new_hard_cap} is not above the current "
                f"${masterplan.budget_hard_cap_usd}"
            )
        code.used_at = timezone.now()
        code.save(update_fields=["used_at"])
        override = BudgetOverride.objects.create(
            masterplan=masterplan,
            approved_by=user,
            old_hard_cap_usd=masterplan.budget_hard_cap_usd,
            new_hard_cap_usd=new_hard_cap,
            spent_usd=spent,
            reason=reason,
        )
        # The soft cap keeps its share of the hard cap (70 % stays 70 %).
        old_hard = masterplan.budget_hard_cap_usd
        ratio = (
            masterplan.budget_soft_cap_usd / old_hard
            if old_hard
            else settings.MGE_BUDGET_SOFT_CAP_RATIO
        )
        masterplan.budget_soft_cap_usd = (new_hard_cap * ratio).quantize(Decimal("0.000001"))
        masterplan.budget_hard_cap_usd = new_hard_cap
        masterplan.save(update_fields=["budget_hard_cap_usd", "budget_soft_cap_usd", "updated_at"])
        transaction.on_commit(lambda: sync_caps(masterplan))
    return override


def override_and_resume(
    masterplan_id: MasterPlanId,
    user: User,
    new_hard_cap: Decimal,
    confirmation_code: str,
    reason: str = "",
) -> MasterPlan:
    """The override as the page and the API offer it: the cap raised, then a plan paused
    at its cap resumed. The queue is asked first, before the code is spent: a raised cap
    must be able to resume the plan (raises jobs.QueueUnavailable, changing nothing)."""
    jobs.require_queue()
    override_hard_cap(masterplan_id, user, new_hard_cap, confirmation_code, reason)
    if MasterPlan.objects.filter(pk=masterplan_id, status=MasterPlan.Status.PAUSED_BUDGET).exists():
        lifecycle.resume_after_override(masterplan_id)
    return MasterPlan.objects.get(pk=masterplan_id)


class CapsRefused(Exception):
    """The caps cannot be set this way (the message says why); `status` is the HTTP code."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def set_caps(
    masterplan_id: MasterPlanId,
    user: User,
    hard_cap: Decimal | None = None,
    soft_cap: Decimal | None = None,
) -> MasterPlan:
    """Change a plan's caps outside a budget pause.

    Raising the hard cap is an approver's decision (budget_approver); once the plan is
    paused at its cap only the coded override may raise it.
    """
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        new_hard = masterplan.budget_hard_cap_usd if hard_cap is None else hard_cap
        new_soft = masterplan.budget_soft_cap_usd if soft_cap is None else soft_cap
        if new_soft > new_hard:
            raise CapsRefused(
                f"the soft cap (${new_soft}) must not exceed the hard cap (${new_hard})", 400
            )
        if new_hard > masterplan.budget_hard_cap_usd:
            if masterplan.status == MasterPlan.Status.PAUSED_BUDGET:
                raise CapsRefused(
                    "the plan is paused at its hard cap: raise it with the override and a "
                    "confirmation code",
                    409,
                )
            if not user.has_perm("execution.override_budget"):
                raise CapsRefused("raising the hard cap needs the budget_approver role", 403)
        spent = CostEntry.objects.filter(masterplan=masterplan).total()
        if new_hard <= spent and masterplan.status == MasterPlan.Status.RUNNING:
            raise CapsRefused(
                f"the hard cap (${new_hard}) must exceed what is spent (${spent}) while the "
                "plan runs; pause it first",
                400,
            )
        masterplan.budget_hard_cap_usd = new_hard
        masterplan.budget_soft_cap_usd = new_soft
        masterplan.save(update_fields=["budget_hard_cap_usd", "budget_soft_cap_usd", "updated_at"])
        transaction.on_commit(lambda: sync_caps(masterplan))
    return masterplan
