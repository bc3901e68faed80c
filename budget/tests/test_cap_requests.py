"""A hard cap above what the asker may set waits for an approver as a cap request."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from budget.models import CapRequest
from budget.overrides import issue_code
from execution.models import MasterPlan

pytestmark = pytest.mark.django_db

LIMIT = Decimal(50)


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.MGE_BUDGET_MAX_CAP_WITHOUT_APPROVAL_USD = LIMIT


@pytest.fixture
def greedy(example_text):
    """slugkit asking for a hard cap of $99,999,999 (soft $70,000,000)."""
    return (
        example_text("slugkit")
        .replace("hard_cap_usd: 5", "hard_cap_usd: 99999999")
        .replace("soft_cap_usd: 3.5", "soft_cap_usd: 70000000")
    )


def import_over_api(client, document: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v2/masterplans/", {"document": document}, format="json")


def test_a_reviewers_import_above_the_limit_gets_the_limit_and_a_pending_request(
    api_client_for, reviewer, approver, greedy, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = import_over_api(api_client_for(reviewer), greedy)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["budget_hard_cap_usd"] == "50.000000"
    assert body["budget_soft_cap_usd"] == "35.000000"  # the default 70 % of the cap it got
    assert body["notices"] == [
        "The hard cap of $99999999.000000 needs a budget approver: slugkit runs with "
        "$50.000000 until one grants or refuses the request (the approvers were mailed)."
    ]
    request = CapRequest.objects.get()
    assert (request.source, request.status, request.requested_by) == ("import", "pending", reviewer)
    assert (request.hard_cap_usd, request.soft_cap_usd) == (Decimal(99999999), Decimal(70000000))
    assert [message.to for message in mail.outbox] == [[approver.email]]
    assert "asks for a hard cap of $99999999" in mail.outbox[0].body

    budget = api_client_for(reviewer).get(f"/api/v2/execution/budget/{body['id']}").json()
    assert budget["hard_cap_usd"] == "50.000000"
    assert budget["pending_cap_request"]["hard_cap_usd"] == "99999999.000000"
    assert budget["pending_cap_request"]["requested_by"] == reviewer.username


def test_caps_within_the_limit_and_an_approvers_import_are_applied_as_written(
    api_client_for, reviewer, approver, example_text, greedy, django_user_model
):
    from django.contrib.auth.models import Group

    within = import_over_api(api_client_for(reviewer), example_text("slugkit"))
    assert within.json()["budget_hard_cap_usd"] == "5.000000" and within.json()["notices"] == []
    both = django_user_model.objects.create_user("both", "both@example.com", "pw")
    both.groups.add(*Group.objects.filter(name__in=["reviewer", "budget_approver"]))
    trusted = import_over_api(api_client_for(both), greedy)
    assert trusted.json()["budget_hard_cap_usd"] == "99999999.000000"
    assert not CapRequest.objects.exists()


def test_the_upload_page_tells_the_reviewer_and_the_approver_grants_on_the_budget_page(
    client, reviewer, approver, greedy, django_capture_on_commit_callbacks
):
    client.force_login(reviewer)
    page = client.post("/masterplans/new/", {"document": greedy}, follow=True)
    assert "needs a budget approver: slugkit runs with $50.000000" in page.content.decode()
    masterplan = MasterPlan.objects.get()
    request = CapRequest.objects.get()

    client.force_login(approver)
    budget_page = client.get(f"/masterplans/{masterplan.pk}/budget/").content.decode()
    assert "Cap request waiting for an approver" in budget_page and ">Grant</button>" in budget_page
    url = f"/masterplans/{masterplan.pk}/budget/cap-requests/{request.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        granted = client.post(url, {"decision": "grant", "note": "big plan"}, follow=True)
    assert "Cap request for $99999999.000000 granted." in granted.content.decode()
    masterplan.refresh_from_db()
    assert (masterplan.budget_hard_cap_usd, masterplan.budget_soft_cap_usd) == (
        Decimal(99999999),
        Decimal(70000000),
    )
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.note) == ("granted", approver, "big plan")
    assert "granted by abel_approver" in granted.content.decode()  # the audit trail
    assert mail.outbox[-1].to == [reviewer.email] and "granted" in mail.outbox[-1].body


def test_an_edit_that_raises_is_held_and_a_newer_one_supersedes_it(
    api_client_for, reviewer, approver, imported
):
    masterplan = imported("slugkit")  # hard 5, soft 3.5
    url = f"/api/v2/execution/budget/{masterplan.pk}"
    client = api_client_for(reviewer)
    first = client.patch(url, {"hard_cap_usd": "20", "soft_cap_usd": "4"}, format="json")
    assert first.status_code == 202, first.content
    assert first.json()["hard_cap_usd"] == "5.000000"
    assert first.json()["soft_cap_usd"] == "4.000000"  # within the current hard cap: applied
    assert "The hard cap of $20.000000 needs a budget approver" in first.json()["detail"]
    second = client.patch(url, {"hard_cap_usd": "30", "soft_cap_usd": "25"}, format="json")
    assert second.status_code == 202
    assert second.json()["soft_cap_usd"] == "4.000000"  # above the current hard cap: held

    history = client.get(f"{url}/cap-requests").json()
    assert [(item["hard_cap_usd"], item["status"], item["source"]) for item in history] == [
        ("30.000000", "pending", "edit"),
        ("20.000000", "superseded", "edit"),
    ]


def test_an_approver_refuses_once_and_nobody_else_decides(
    api_client_for, reviewer, approver, viewer, imported
):
    masterplan = imported("slugkit")
    url = f"/api/v2/execution/budget/{masterplan.pk}"
    api_client_for(reviewer).patch(url, {"hard_cap_usd": "20"}, format="json")
    request = CapRequest.objects.get()
    decision = f"{url}/cap-requests/{request.pk}"
    for role in (reviewer, viewer):
        refused = api_client_for(role).post(decision, {"decision": "grant"}, format="json")
        assert refused.status_code == 403
    bad = api_client_for(approver).post(decision, {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and "decision" in bad.json()["errors"]

    answer = api_client_for(approver).post(
        decision, {"decision": "refuse", "note": "split the plan"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["decided_by"], answer.json()["note"]) == (
        "refused",
        approver.username,
        "split the plan",
    )
    again = api_client_for(approver).post(decision, {"decision": "grant"}, format="json")
    assert again.status_code == 409 and "already refused" in again.json()["detail"]
    masterplan.refresh_from_db()
    assert masterplan.budget_hard_cap_usd == Decimal(5)
    unknown = api_client_for(approver).post(
        f"{url}/cap-requests/00000000-0000-0000-0000-000000000000",
        {"decision": "grant"},
        format="json",
    )
    assert unknown.status_code == 404


def test_a_plan_paused_at_its_cap_is_raised_by_the_override_which_closes_the_request(
    api_client_for, reviewer, approver, imported, settings
):
    settings.MGE_OVERRIDE_TWO_PERSON = "off"
    masterplan = imported("slugkit")
    url = f"/api/v2/execution/budget/{masterplan.pk}"
    api_client_for(reviewer).patch(url, {"hard_cap_usd": "20"}, format="json")
    request = CapRequest.objects.get()
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED_BUDGET)
    grant = api_client_for(approver).post(
        f"{url}/cap-requests/{request.pk}", {"decision": "grant"}, format="json"
    )
    assert grant.status_code == 409 and "override" in grant.json()["detail"]

    code, _ = issue_code(masterplan)
    override = api_client_for(approver).post(
        f"{url}/override", {"new_hard_cap": "20", "confirmation_code": code}, format="json"
    )
    assert override.status_code == 200, override.content
    request.refresh_from_db()
    assert request.status == "superseded"
