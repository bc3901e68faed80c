from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.core.management import call_command

from budget.counters import BudgetCounters
from budget.models import CostEntry
from budget.tasks import settle_expired_reservations
from execution.actions import import_masterplan
from execution.document.format import MasterPlanFormatError
from execution.models import MasterPlan
from execution.tests.test_masterplan_format import MINIMAL, replace_in


@pytest.mark.django_db
def test_budget_status_has_the_seeds_fields(api_client_for, viewer, imported):
    masterplan = imported("slugkit")  # hard cap 5, soft 3.5
    CostEntry.objects.create(
        masterplan=masterplan, model="claude-haiku-4-5", cost_usd=Decimal("4"), reservation_id="r"
    )
    CostEntry.objects.create(  # a dead worker's call
        masterplan=masterplan, model="claude-haiku-4-5", cost_usd=Decimal("0.25"),
        reservation_id="lost", kind=CostEntry.Kind.ESTIMATED,
    )  # fmt: skip
    body = api_client_for(viewer).get(f"/api/v2/execution/budget/{masterplan.pk}").json()
    assert body == {
        "masterplan_id": str(masterplan.pk),
        "cost_accumulated": "4.250000",
        "soft_cap_usd": "3.500000",
        "hard_cap_usd": "5.000000",
        "percentage_used": "85.00",
        "remaining_budget": "0.750000",
        "reserved_usd": "0.000000",
        "estimated_usd": "0.250000",
        "status": "WARNING",
        "pending_cap_request": None,
    }


@pytest.mark.django_db
def test_budget_of_an_unknown_masterplan_is_404(api_client_for, viewer):
    unknown = "00000000-0000-0000-0000-000000000000"
    assert api_client_for(viewer).get(f"/api/v2/execution/budget/{unknown}").status_code == 404


@pytest.mark.django_db
def test_a_document_naming_a_model_without_a_price_is_refused():
    with pytest.raises(MasterPlanFormatError, match="no price for model 'claude-9000'"):
        import_masterplan(replace_in(MINIMAL, "name: tiny", "name: tiny\nmodel: claude-9000"))
    assert not MasterPlan.objects.exists()


@pytest.mark.django_db
def test_rebuild_sets_the_counters_from_the_ledger(imported, capsys):
    masterplan = imported("slugkit")
    for n, amount in enumerate(["0.25", "0.5"]):
        CostEntry.objects.create(
            masterplan=masterplan, model="gpt-4", cost_usd=Decimal(amount), reservation_id=f"r{n}"
        )
    counters = BudgetCounters()
    counters.load(masterplan.pk, Decimal(5), Decimal("3.5"), Decimal("99"))  # wrong on purpose
    call_command("mge", "budget", "rebuild")
    snapshot = counters.snapshot(masterplan.pk)
    assert snapshot is not None
    assert snapshot.spent_usd == Decimal("0.75")
    assert "slugkit: $0.750000" in capsys.readouterr().out


@pytest.mark.django_db
def test_an_expired_reservation_that_kept_nothing_is_charged_what_it_reserved(imported):
    masterplan = imported("slugkit")
    counters = BudgetCounters()
    counters.load(masterplan.pk, Decimal(5), Decimal("3.5"), Decimal(0))
    counters.reserve(masterplan.pk, Decimal("0.2"), ttl_seconds=0.01)
    time.sleep(0.02)
    assert settle_expired_reservations() == 1
    entry = CostEntry.objects.get()
    assert (entry.kind, entry.cost_usd) == ("estimated", Decimal("0.2"))
    snapshot = counters.snapshot(masterplan.pk)
    assert snapshot is not None
    assert snapshot.spent_usd == Decimal("0.2")
    assert settle_expired_reservations() == 0


@pytest.mark.django_db
def test_caps_set_over_the_api_follow_the_roles(api_client_for, reviewer, approver, imported):
    masterplan = imported("slugkit")  # soft 3.5, hard 5
    url = f"/api/v2/execution/budget/{masterplan.pk}"
    reviewer_client = api_client_for(reviewer)
    lowered = reviewer_client.patch(url, {"hard_cap_usd": "4", "soft_cap_usd": "3"}, format="json")
    assert lowered.status_code == 200
    assert (lowered.json()["hard_cap_usd"], lowered.json()["soft_cap_usd"]) == (
        "4.000000",
        "3.000000",
    )

    raised = reviewer_client.patch(url, {"hard_cap_usd": "50"}, format="json")
    assert raised.status_code == 202  # held for an approver: test_cap_requests.py
    assert raised.json()["hard_cap_usd"] == "4.000000"
    inverted = reviewer_client.patch(url, {"soft_cap_usd": "9"}, format="json")
    assert inverted.status_code == 400
    unchanged = reviewer_client.patch(url, {}, format="json")
    assert unchanged.status_code == 200 and unchanged.json()["hard_cap_usd"] == "4.000000"
    for amount in (5, "-1", "", " 5", "1e3", "5.1234567"):
        refused = reviewer_client.patch(url, {"soft_cap_usd": amount}, format="json")
        assert refused.status_code == 400, amount
        assert "as a string of digits" in refused.json()["errors"]["soft_cap_usd"][0]

    assert (
        api_client_for(approver).patch(url, {"hard_cap_usd": "50"}, format="json").status_code
        == 403
    )
    masterplan.refresh_from_db()
    assert masterplan.budget_hard_cap_usd == Decimal("4")


@pytest.mark.django_db
def test_an_approver_raises_caps_but_not_past_a_budget_pause(
    api_client_for, django_user_model, imported
):
    from django.contrib.auth.models import Group

    both = django_user_model.objects.create_user("both", "both@example.com", "pw")
    both.groups.add(*Group.objects.filter(name__in=["reviewer", "budget_approver"]))
    masterplan = imported("slugkit")
    url = f"/api/v2/execution/budget/{masterplan.pk}"
    client = api_client_for(both)
    assert client.patch(url, {"hard_cap_usd": "50"}, format="json").status_code == 200
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED_BUDGET)
    paused = client.patch(url, {"hard_cap_usd": "80"}, format="json")
    assert paused.status_code == 409
    assert "override and a confirmation code" in paused.json()["detail"]
