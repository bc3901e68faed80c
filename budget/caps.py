"""Setting a plan's caps: directly, or — above what the asker may set — as a cap request
that an approver grants or refuses (the plan keeps the highest cap the asker may set).

Who may set what: a budget_approver any cap (outside a budget pause, where only the coded
override raises it); anyone else may lower caps, and at import may set a hard cap up to
MGE_BUDGET_MAX_CAP_WITHOUT_APPROVAL_USD. The command line imports as the operator, with
no limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from budget.alerts import approver_emails
from budget.counters import MasterPlanId, sync_caps
from budget.models import CapRequest, CostEntry
from execution.models import MasterPlan

OVERRIDE_PERMISSION = "execution.override_budget"
_MICRO = Decimal("0.000001")


class CapsRefused(Exception):
    """The caps cannot be set this way (the message says why); `status` is the HTTP code,
    `field` the input to blame, if one is."""

    def __init__(self, message: str, status: int, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class CapsSaved:
    masterplan: MasterPlan
    held: CapRequest | None
    """The request an approver must decide, when the asked-for hard cap was not applied."""


def scaled_soft(soft: Decimal, hard: Decimal, new_hard: Decimal) -> Decimal:
    """The soft cap keeps its share of the hard cap (70 % stays 70 %)."""
    ratio = soft / hard if hard else settings.MGE_BUDGET_SOFT_CAP_RATIO
    return (new_hard * ratio).quantize(_MICRO)


def _apply(masterplan: MasterPlan, hard: Decimal, soft: Decimal) -> None:
    masterplan.budget_hard_cap_usd = hard
    masterplan.budget_soft_cap_usd = soft
    masterplan.save(update_fields=["budget_hard_cap_usd", "budget_soft_cap_usd", "updated_at"])
    transaction.on_commit(lambda: sync_caps(masterplan))


def _open_request(
    masterplan: MasterPlan,
    user: User | None,
    source: CapRequest.Source,
    hard: Decimal,
    soft: Decimal,
) -> CapRequest:
    """A new pending request (the plan's earlier one is superseded); approvers get a mail."""
    close_pending(masterplan)
    request = CapRequest.objects.create(
        masterplan=masterplan,
        source=source,
        requested_by=user,
        hard_cap_usd=hard,
        soft_cap_usd=soft,
        applied_hard_cap_usd=masterplan.budget_hard_cap_usd,
    )
    asker = user.get_username() if user else "someone"
    text = (
        f"{asker} asks for a hard cap of ${hard} (soft ${soft}) on {masterplan.name}; it "
        f"runs with ${masterplan.budget_hard_cap_usd} until an approver grants or refuses "
        "the request on its budget page.\n"
    )
    recipients = [email for email in approver_emails() if not user or email != user.email]
    _mail_after_commit(f"[MGE budget] Cap request for {masterplan.name}", text, recipients)
    return request


def hold_imported_caps(masterplan: MasterPlan, user: User | None) -> CapRequest | None:
    """At import, inside its transaction: a hard cap above what `user` may set is lowered
    to the limit and held as a request. Returns the request, or None when nothing is held."""
    limit = settings.MGE_BUDGET_MAX_CAP_WITHOUT_APPROVAL_USD
    hard, soft = masterplan.budget_hard_cap_usd, masterplan.budget_soft_cap_usd
    if user is None or user.has_perm(OVERRIDE_PERMISSION) or hard <= limit:
        return None
    # The asked-for soft cap if it fits under the cap the plan gets; else the default share
    # of that cap (scaling the asked-for share could give a warning at a tenth of a cent).
    held_soft = soft if soft <= limit else (limit * settings.MGE_BUDGET_SOFT_CAP_RATIO)
    _apply(masterplan, limit, held_soft.quantize(_MICRO))
    return _open_request(masterplan, user, CapRequest.Source.IMPORT, hard, soft)


def held_message(request: CapRequest) -> str:
    """What the asker is told (the import's notice, the caps form, the API's detail)."""
    asked, applied = (
        amount.quantize(_MICRO) for amount in (request.hard_cap_usd, request.applied_hard_cap_usd)
    )
    return (
        f"The hard cap of ${asked} needs a budget approver: {request.masterplan.name} runs "
        f"with ${applied} until one grants or refuses the request (the approvers were mailed)."
    )


def set_caps(
    masterplan_id: MasterPlanId,
    user: User,
    hard_cap: Decimal | None = None,
    soft_cap: Decimal | None = None,
) -> CapsSaved:
    """Change a plan's caps outside a budget pause. A raise of the hard cap by someone who
    is not an approver is held as a request; what they may change (a lower soft cap) is
    applied."""
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        new_hard = masterplan.budget_hard_cap_usd if hard_cap is None else hard_cap
        new_soft = masterplan.budget_soft_cap_usd if soft_cap is None else soft_cap
        if new_soft > new_hard:
            raise CapsRefused(
                f"the soft cap (${new_soft}) must not exceed the hard cap (${new_hard})",
                400,
                "soft_cap_usd",
            )
        raising = new_hard > masterplan.budget_hard_cap_usd
        if raising and masterplan.status == MasterPlan.Status.PAUSED_BUDGET:
            raise CapsRefused(
                "the plan is paused at its hard cap: raise it with the override and a "
                "confirmation code",
                409,
            )
        if raising and not user.has_perm(OVERRIDE_PERMISSION):
            held = _open_request(masterplan, user, CapRequest.Source.EDIT, new_hard, new_soft)
            if new_soft <= masterplan.budget_hard_cap_usd:
                _apply(masterplan, masterplan.budget_hard_cap_usd, new_soft)
            return CapsSaved(masterplan, held)
        _check_above_spent(masterplan, new_hard)
        _apply(masterplan, new_hard, new_soft)
    return CapsSaved(masterplan, None)


def _check_above_spent(masterplan: MasterPlan, new_hard: Decimal) -> None:
    spent = CostEntry.objects.filter(masterplan=masterplan).total()
    if new_hard <= spent and masterplan.status == MasterPlan.Status.RUNNING:
        raise CapsRefused(
            f"the hard cap (${new_hard}) must exceed what is spent (${spent}) while the "
            "plan runs; pause it first",
            400,
            "hard_cap_usd",
        )


def decide(
    masterplan_id: MasterPlanId, request_id: str, approver: User, *, grant: bool, note: str = ""
) -> CapRequest:
    """An approver grants (the caps asked for are applied) or refuses a pending request."""
    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        request = (
            CapRequest.objects.select_for_update()
            .filter(masterplan=masterplan, pk=request_id)
            .first()
        )
        if request is None:
            raise CapsRefused(f"{masterplan.name} has no cap request {request_id}", 404)
        if request.status != CapRequest.Status.PENDING:
            raise CapsRefused(f"the request was already {request.status}", 409)
        if grant:
            if masterplan.status == MasterPlan.Status.PAUSED_BUDGET:
                raise CapsRefused(
                    "the plan is paused at its hard cap: raise it with the override and a "
                    "confirmation code (that closes this request)",
                    409,
                )
            _check_above_spent(masterplan, request.hard_cap_usd)
            _apply(masterplan, request.hard_cap_usd, request.soft_cap_usd)
        request.status = CapRequest.Status.GRANTED if grant else CapRequest.Status.REFUSED
        request.decided_by = approver
        request.decided_at = timezone.now()
        request.note = note
        request.save(update_fields=["status", "decided_by", "decided_at", "note"])
        asker = request.requested_by
        text = (
            f"{approver.get_username()} {request.status} your request for a hard cap of "
            f"${request.hard_cap_usd} on {masterplan.name}."
            + (f" Note: {note}" if note else "")
            + "\n"
        )
        _mail_after_commit(
            f"[MGE budget] Cap request {request.status}",
            text,
            [asker.email] if asker is not None and asker.email else [],
        )
    return request


def pending_request(masterplan: MasterPlan) -> CapRequest | None:
    """The plan's request waiting for an approver (at most one), with who asked; none,
    without a query, when the plan was read `with_ledger` and says none waits."""
    if getattr(masterplan, "cap_request_waits", True) is False:
        return None
    return (
        masterplan.cap_requests.select_related("requested_by")
        .filter(status=CapRequest.Status.PENDING)
        .first()
    )


def _mail_after_commit(subject: str, text: str, recipients: list[str]) -> None:
    """Mail once the decision is committed (a rolled-back one tells nobody)."""
    if recipients:
        transaction.on_commit(lambda: send_mail(subject, text, None, recipients))


def close_pending(masterplan: MasterPlan) -> None:
    """A newer request or an override decided the cap: the pending request is superseded."""
    CapRequest.objects.filter(masterplan=masterplan, status=CapRequest.Status.PENDING).update(
        status=CapRequest.Status.SUPERSEDED, decided_at=timezone.now()
    )
