"""Raising a paused plan's hard cap: one-time confirmation codes and the audited override."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from budget.alerts import approver_emails
from budget.caps import close_pending, scaled_soft
from budget.counters import MasterPlanId, sync_caps
from budget.models import BudgetOverride, CostEntry, OverrideCode
from execution.models import MasterPlan
from execution.roles import BUDGET_APPROVER
from execution.runtime import jobs, lifecycle

CODE_LIFETIME = dt.timedelta(minutes=15)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a mail or a page


class CodeRejected(Exception):
    """Wrong, expired or already used (HTTP 403)."""


class CapTooLow(Exception):
    """The new caps do not fit (HTTP 400): the hard cap not above what is spent or the
    current cap, or the soft cap above the new hard cap. `field` is the input to fix."""

    def __init__(self, message: str, field: str = "new_hard_cap") -> None:
        super().__init__(message)
        self.field = field


def soft_cap_after(
    masterplan: MasterPlan, new_hard_cap: Decimal, new_soft_cap: Decimal | None
) -> Decimal:
    """The soft cap an override leaves: the approver's, or the old one's share of the new
    hard cap (70 % stays 70 %) — shown in the review step before it is confirmed."""
    if new_soft_cap is not None:
        return new_soft_cap
    return scaled_soft(masterplan.budget_soft_cap_usd, masterplan.budget_hard_cap_usd, new_hard_cap)


def _hash(code: str) -> str:
    normalised = code.strip().upper().replace("-", "")
    return hmac.new(settings.SECRET_KEY.encode(), normalised.encode(), hashlib.sha256).hexdigest()


def two_person_rule() -> bool:
    """MGE_OVERRIDE_TWO_PERSON: on, off, or auto — on once the budget_approver group has two
    active members (a code one approver issues to themselves is no second factor)."""
    mode = settings.MGE_OVERRIDE_TWO_PERSON
    if mode == "auto":
        approvers = Group.objects.filter(name=BUDGET_APPROVER).values_list("user", flat=True)
        return User.objects.filter(pk__in=approvers, is_active=True).count() >= 2
    return mode == "on"


def issue_code(masterplan: MasterPlan, issued_by: User | None = None) -> tuple[str, dt.datetime]:
    """A new code for this plan; the plan's earlier unused code is void from now on (one
    outstanding code per plan). Call inside a transaction."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    now = timezone.now()
    expires_at = now + CODE_LIFETIME
    OverrideCode.objects.filter(masterplan=masterplan, used_at=None, voided_at=None).update(
        voided_at=now
    )
    OverrideCode.objects.create(
        masterplan=masterplan, code_hash=_hash(code), expires_at=expires_at, issued_by=issued_by
    )
    return f"{code[:4]}-{code[4:]}", expires_at


@dataclass(frozen=True)
class CodeRequest:
    expires_at: dt.datetime
    code: str | None
    """Shown to whoever asked; None under the two-person rule (it went to the others)."""
    mailed_to: list[str]


class CodeRefused(Exception):
    """No code can be issued as things are (HTTP 409): it says why."""


def request_code(masterplan: MasterPlan, user: User) -> CodeRequest:
    """Issue a code for `user`'s override. Under the two-person rule it is mailed to the
    other approvers and not shown: one of them confirms the override."""
    two_person = two_person_rule()
    others = [email for email in approver_emails() if email != user.email]
    if two_person and not others:
        raise CodeRefused(
            "Under the two-person rule the code goes to another approver, and no other "
            "approver has an e-mail address: add one, or set MGE_OVERRIDE_TWO_PERSON=off."
        )
    with transaction.atomic():
        code, expires_at = issue_code(masterplan, issued_by=user)
    if not two_person:
        return CodeRequest(expires_at, code, [])
    send_mail(
        f"[MGE budget] Override code for {masterplan.name}",
        f"{user.get_username()} asks to raise the hard cap of {masterplan.name}. If you "
        f"agree, confirm the override with the code {code} (valid once, until "
        f"{expires_at:%H:%M} UTC). {user.get_username()} cannot use it.\n",
        None,
        others,
    )
    return CodeRequest(expires_at, None, others)


def code_request_message(issued: CodeRequest) -> str:
    """What the page and the API tell the approver who asked."""
    if issued.code is not None:
        return (
            f"Confirmation code {issued.code}, valid once until {issued.expires_at:%H:%M} UTC. "
            "It is shown only now; an earlier code of this plan no longer works."
        )
    count = len(issued.mailed_to)
    return (
        f"Two-person rule: the code was mailed to {count} other approver{'s' * (count != 1)}, "
        f"valid once until {issued.expires_at:%H:%M} UTC; one of them confirms the override."
    )


def override_hard_cap(
    masterplan_id: MasterPlanId,
    user: User,
    new_hard_cap: Decimal,
    confirmation_code: str,
    reason: str = "",
    new_soft_cap: Decimal | None = None,
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
        if code.voided_at is not None:
            raise CodeRejected("a newer confirmation code replaced this one; use the newest")
        if two_person_rule() and code.issued_by_id == user.pk:
            raise CodeRejected(
                "you asked for this code: under the two-person rule another approver, who "
                "received it by mail, confirms the override"
            )
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
        soft_cap = soft_cap_after(masterplan, new_hard_cap, new_soft_cap)
        if soft_cap > new_hard_cap:
            raise CapTooLow(
                f"the soft cap (${soft_cap}) must not exceed the new hard cap (${new_hard_cap})",
                "new_soft_cap",
            )
        code.used_at = timezone.now()
        code.save(update_fields=["used_at"])
        override = BudgetOverride.objects.create(
            masterplan=masterplan,
            approved_by=user,
            old_hard_cap_usd=masterplan.budget_hard_cap_usd,
            new_hard_cap_usd=new_hard_cap,
            old_soft_cap_usd=masterplan.budget_soft_cap_usd,
            new_soft_cap_usd=soft_cap,
            spent_usd=spent,
            reason=reason,
        )
        masterplan.budget_soft_cap_usd = soft_cap
        masterplan.budget_hard_cap_usd = new_hard_cap
        close_pending(masterplan)
        masterplan.save(update_fields=["budget_hard_cap_usd", "budget_soft_cap_usd", "updated_at"])
        transaction.on_commit(lambda: sync_caps(masterplan))
    return override


def override_and_resume(
    masterplan_id: MasterPlanId,
    user: User,
    new_hard_cap: Decimal,
    confirmation_code: str,
    reason: str = "",
    new_soft_cap: Decimal | None = None,
) -> MasterPlan:
    """The override as the page and the API offer it: the cap raised, then a plan paused
    at its cap resumed. The queue is asked first, before the code is spent: a raised cap
    must be able to resume the plan (raises jobs.QueueUnavailable, changing nothing)."""
    jobs.require_queue()
    override_hard_cap(masterplan_id, user, new_hard_cap, confirmation_code, reason, new_soft_cap)
    if MasterPlan.objects.filter(pk=masterplan_id, status=MasterPlan.Status.PAUSED_BUDGET).exists():
        lifecycle.resume_after_override(masterplan_id)
    return MasterPlan.objects.get(pk=masterplan_id)
