"""The override's refusals, each leaving the cap where it was."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from budget.models import BudgetOverride, CostEntry, OverrideCode
from budget.overrides import issue_code
from execution.models import MasterPlan


@pytest.fixture
def paused(imported):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED_BUDGET)
    CostEntry.objects.create(
        masterplan=masterplan, model="claude-haiku-4-5", cost_usd=Decimal("4.5"),
        reservation_id="r1",
    )  # fmt: skip
    masterplan.refresh_from_db()
    return masterplan


def override(client, masterplan, **body):
    return client.post(
        f"/api/v2/execution/budget/{masterplan.pk}/override",
        {"new_hard_cap": "10", **body},
        format="json",
    )


def assert_untouched(masterplan):
    masterplan.refresh_from_db()
    assert masterplan.budget_hard_cap_usd == Decimal("5")
    assert masterplan.status == MasterPlan.Status.PAUSED_BUDGET
    assert not BudgetOverride.objects.exists()


@pytest.mark.django_db
def test_a_wrong_code_is_403(api_client_for, approver, paused):
    issue_code(paused)
    response = override(api_client_for(approver), paused, confirmation_code="ABCD-EFGH")
    assert response.status_code == 403
    assert "not valid for this masterplan" in response.json()["detail"]
    assert_untouched(paused)


@pytest.mark.django_db
def test_an_expired_code_is_403(api_client_for, approver, paused):
    code, _ = issue_code(paused)
    OverrideCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = override(api_client_for(approver), paused, confirmation_code=code)
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]
    assert_untouched(paused)


@pytest.mark.django_db
def test_a_code_of_another_masterplan_is_403(api_client_for, approver, paused, imported):
    code, _ = issue_code(imported("typed-event-bus"))
    assert override(api_client_for(approver), paused, confirmation_code=code).status_code == 403
    assert_untouched(paused)


@pytest.mark.django_db
def test_a_cap_not_above_what_is_spent_is_400_and_keeps_the_code(api_client_for, approver, paused):
    code, _ = issue_code(paused)
    client = api_client_for(approver)
    response = override(client, paused, confirmation_code=code, new_hard_cap="4.5")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "new_hard_cap": ["the new hard cap ($4.500000) must exceed what is spent ($4.500000)"]
    }
    assert_untouched(paused)
    assert OverrideCode.objects.get().used_at is None  # still usable for a right amount


@pytest.mark.django_db
def test_without_the_approver_role_it_is_403(api_client_for, reviewer, paused):
    code, _ = issue_code(paused)
    response = override(api_client_for(reviewer), paused, confirmation_code=code)
    assert response.status_code == 403
    assert_untouched(paused)


@pytest.mark.django_db
def test_malformed_input_says_what_to_fix(api_client_for, approver, paused):
    response = api_client_for(approver).post(
        f"/api/v2/execution/budget/{paused.pk}/override", {"new_hard_cap": "lots"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"new_hard_cap", "confirmation_code"}


@pytest.mark.django_db
def test_a_used_code_is_403_the_second_time(api_client_for, approver, paused, settings):
    code, _ = issue_code(paused)
    client = api_client_for(approver)
    first = override(client, paused, confirmation_code=code.lower())  # case-insensitive
    assert first.status_code == 200
    assert first.json()["hard_cap_usd"] == "10.000000"
    assert first.json()["soft_cap_usd"] == "7.000000"  # 3.5 of 5 stays 70 %
    second = override(client, paused, confirmation_code=code, new_hard_cap="20")
    assert second.status_code == 403
    assert "already used" in second.json()["detail"]
    assert BudgetOverride.objects.count() == 1


@pytest.mark.django_db
def test_codes_are_stored_hashed_and_issued_to_approvers_only(
    api_client_for, approver, reviewer, paused
):
    assert (
        api_client_for(reviewer).post(f"/api/v2/execution/budget/{paused.pk}/codes").status_code
        == 403
    )
    response = api_client_for(approver).post(f"/api/v2/execution/budget/{paused.pk}/codes")
    assert response.status_code == 201
    code = response.json()["confirmation_code"]
    stored = OverrideCode.objects.get()
    assert code.replace("-", "") not in stored.code_hash
    assert len(stored.code_hash) == 64


@pytest.mark.django_db
def test_an_override_only_raises_the_cap(api_client_for, approver, paused):
    code, _ = issue_code(paused)
    response = override(
        api_client_for(approver), paused, confirmation_code=code, new_hard_cap="4.9"
    )
    assert response.status_code == 400
    assert "is not above the current $5.000000" in response.json()["errors"]["new_hard_cap"][0]
    assert OverrideCode.objects.get().used_at is None


@pytest.mark.django_db
def test_a_zero_cap_can_be_overridden(api_client_for, approver, imported, settings):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(
        budget_hard_cap_usd=0, budget_soft_cap_usd=0, status=MasterPlan.Status.PAUSED_BUDGET
    )
    code, _ = issue_code(masterplan)
    response = override(api_client_for(approver), masterplan, confirmation_code=code)
    assert response.status_code == 200
    assert response.json()["soft_cap_usd"] == "7.000000"  # the default ratio, 0.7


@pytest.mark.django_db
def test_a_soft_cap_above_the_new_hard_cap_is_400_and_keeps_the_code(
    api_client_for, approver, paused
):
    code, _ = issue_code(paused)
    response = override(api_client_for(approver), paused, confirmation_code=code,
                        new_soft_cap="11")  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "new_soft_cap": ["the soft cap ($11.000000) must not exceed the new hard cap ($10.000000)"]
    }
    assert_untouched(paused)
    assert OverrideCode.objects.get().used_at is None
    answer = override(api_client_for(approver), paused, confirmation_code=code, new_soft_cap="9")
    assert answer.status_code == 200 and answer.json()["soft_cap_usd"] == "9.000000"
