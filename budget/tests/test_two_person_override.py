"""The confirmation code as a second person's consent, and one outstanding code a plan."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from budget.models import CostEntry
from budget.overrides import issue_code
from execution.models import MasterPlan

pytestmark = pytest.mark.django_db


@pytest.fixture
def paused(imported):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED_BUDGET)
    CostEntry.objects.create(masterplan=masterplan, model="claude-haiku-4-5",
                             cost_usd=Decimal("4.5"), reservation_id="r1")  # fmt: skip
    masterplan.refresh_from_db()
    return masterplan


@pytest.fixture
def second_approver(django_user_model):
    user = django_user_model.objects.create_user("bea_approver", "bea@example.com", "pw-bea")
    user.groups.add(Group.objects.get(name="budget_approver"))
    return user


def ask_for_code(client, masterplan):
    return client.post(f"/api/v2/execution/budget/{masterplan.pk}/codes")


def confirm(client, masterplan, code: str):  # type: ignore[no-untyped-def]
    body = {"new_hard_cap": "10", "confirmation_code": code}
    return client.post(f"/api/v2/execution/budget/{masterplan.pk}/override", body, format="json")


def test_a_new_code_voids_the_earlier_one(paused, approver, api_client_for):
    client = api_client_for(approver)
    first = ask_for_code(client, paused).json()["confirmation_code"]
    second = ask_for_code(client, paused).json()["confirmation_code"]
    refused = confirm(client, paused, first)
    assert (
        refused.status_code == 403
        and "a newer confirmation code replaced" in (refused.json()["detail"])
    )
    assert confirm(client, paused, second).status_code == 200


def test_with_two_approvers_the_code_goes_to_the_other_who_confirms(
    paused, approver, second_approver, api_client_for
):
    asked = ask_for_code(api_client_for(approver), paused)
    assert asked.status_code == 201
    body = asked.json()
    assert body["confirmation_code"] is None and body["two_person"] is True
    assert body["mailed_to"] == 1 and "mailed to 1 other approver" in body["detail"]
    [message] = mail.outbox
    assert message.to == ["bea@example.com"] and approver.email not in message.to
    code = re.search(r"the code (\w{4}-\w{4})", str(message.body))
    assert code is not None
    # The approver who asked cannot use it, even knowing it; the other one can.
    refused = confirm(api_client_for(approver), paused, code[1])
    assert refused.status_code == 403 and "two-person rule" in refused.json()["detail"]
    paused.refresh_from_db()
    assert paused.budget_hard_cap_usd == Decimal("5")
    assert confirm(api_client_for(second_approver), paused, code[1]).status_code == 200
    paused.refresh_from_db()
    assert paused.budget_hard_cap_usd == Decimal("10")


def test_the_rule_can_be_switched_off_and_on(paused, approver, settings, api_client_for):
    settings.MGE_OVERRIDE_TWO_PERSON = "on"  # one approver only: nobody to mail
    refused = ask_for_code(api_client_for(approver), paused)
    assert (
        refused.status_code == 409
        and "no other approver has an e-mail" in (refused.json()["detail"])
    )
    settings.MGE_OVERRIDE_TWO_PERSON = "off"
    assert ask_for_code(api_client_for(approver), paused).json()["confirmation_code"]


def test_the_page_says_where_the_code_went(paused, approver, second_approver, client):
    client.force_login(approver)
    page = client.post(f"/masterplans/{paused.pk}/budget/codes/", follow=True).content.decode()
    assert "Two-person rule: the code was mailed to 1 other approver" in page
    assert not re.search(r"Confirmation code [A-Z2-9]{4}-[A-Z2-9]{4}", page)


def test_issuing_in_code_keeps_one_outstanding_code(paused):
    issue_code(paused)
    issue_code(paused)
    assert paused.override_codes.filter(voided_at=None).count() == 1


def test_under_the_rule_the_pause_alert_carries_no_code(imported, approver, second_approver):
    from budget.counters import Refusal
    from budget.guardrails import pause_for_budget

    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.RUNNING)
    assert pause_for_budget(
        masterplan.pk, Decimal("9"), Refusal(Decimal(0), Decimal(0), Decimal(5))
    )
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.PAUSED_BUDGET
    bodies = "\n".join(str(message.body) for message in mail.outbox)
    assert "one approver asks for a code on the budget page" in bodies
    assert "Confirmation code to raise the cap" not in bodies
    assert not masterplan.override_codes.exists()
