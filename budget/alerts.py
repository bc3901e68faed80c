"""Budget alerts: once per crossing, to the log, the database, approvers' mail and a webhook."""

from __future__ import annotations

import json
import logging
import urllib.request
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q

from budget.models import BudgetAlert
from execution.models import MasterPlan

logger = logging.getLogger(__name__)


def approver_emails() -> list[str]:
    """Addresses of everyone who may override a hard cap."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    holders = users.filter(
        Q(is_superuser=True)
        | Q(user_permissions__codename="override_budget")
        | Q(groups__permissions__codename="override_budget")
    )
    return sorted(set(holders.values_list("email", flat=True)))


def raise_alert(
    masterplan: MasterPlan,
    level: str,
    threshold: Decimal,
    spent: Decimal,
    message: str,
    *,
    extra_mail_text: str = "",
) -> BudgetAlert | None:
    """Record and deliver an alert, unless this cap already raised it (then None)."""
    try:
        with transaction.atomic():
            alert = BudgetAlert.objects.create(
                masterplan=masterplan,
                level=level,
                threshold_usd=threshold,
                spent_usd=spent,
                message=message,
            )
    except IntegrityError:
        return None  # the same crossing, seen by another worker first
    log = logger.critical if level == BudgetAlert.Level.CRITICAL else logger.warning
    log("budget %s for masterplan %s: %s", level, masterplan.pk, message)
    channels = ["log", "database"]
    recipients = approver_emails()
    if recipients:
        send_mail(
            f"[MGE budget {level}] {masterplan.name}",
            f"{message}\n{extra_mail_text}".strip() + "\n",
            None,
            recipients,
            fail_silently=True,
        )
        channels.append("email")
    webhook_url = settings.MGE_ALERT_WEBHOOK_URL
    if webhook_url and _post_webhook(webhook_url, level, masterplan, message):
        channels.append("webhook")
    alert.channels = channels
    alert.save(update_fields=["channels"])
    return alert


def slack_escaped(text: str) -> str:
    """Text as Slack's mrkdwn shows it literally: `&`, `<` and `>` escaped, so a plan named
    `<!channel>` or `<@U123>` notifies nobody and links nowhere."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _post_webhook(url: str, level: str, masterplan: MasterPlan, message: str) -> bool:
    """Slack-compatible JSON; a webhook that is down must not stop the run."""
    icon = ":rotating_light:" if level == BudgetAlert.Level.CRITICAL else ":warning:"
    text = f"{icon} MGE budget {level} — {slack_escaped(masterplan.name)}: {slack_escaped(message)}"
    body = json.dumps({"text": text})
    request = urllib.request.Request(
        url,
        data=body.encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 200 <= response.status < 300
    except OSError as error:
        logger.error("budget alert webhook failed: %s", error)
        return False
