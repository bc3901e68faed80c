from __future__ import annotations

import re
from decimal import Decimal

import pytest

from budget.models import BudgetOverride, CostEntry
from budget.overrides import issue_code
from execution.models import MasterPlan

HTMX = {"HX-Request": "true"}


@pytest.fixture
def paused(imported):
    masterplan = imported("slugkit")
    atom = masterplan.atoms.get(name="slugify")
    for n in range(3):
        CostEntry.objects.create(
            masterplan=masterplan, atom=atom, wave=atom.wave, model="claude-sonnet-4-6",
            input_tokens=1000, output_tokens=200, cost_usd=Decimal("1.7"), reservation_id=f"r{n}",
        )  # fmt: skip
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED_BUDGET)
    return masterplan


@pytest.mark.django_db
def test_the_budget_page_shows_status_breakdowns_and_ledger(client, viewer, paused):
    client.force_login(viewer)
    page = client.get(f"/masterplans/{paused.pk}/budget/").content.decode()
    assert "PAUSED" in page
    assert "$5.10 (102.00 %)" in page
    assert page.count("claude-sonnet-4-6") >= 4  # by model + three ledger rows
    assert "Raise the hard cap" not in page  # viewers do not get the form


@pytest.mark.django_db
def test_list_and_detail_show_the_budget_bar_coloured_by_status(client, viewer, paused):
    client.force_login(viewer)
    for url in ["/", f"/masterplans/{paused.pk}/"]:
        page = client.get(url).content.decode()
        assert 'class="budget-bar paused"' in page
        assert f'href="/masterplans/{paused.pk}/budget/"' in page


@pytest.mark.django_db
def test_an_approver_overrides_in_two_steps_and_the_plan_resumes(client, approver, paused):
    code, _ = issue_code(paused)
    client.force_login(approver)
    url = f"/masterplans/{paused.pk}/budget/override/"
    form = {"new_hard_cap": "20", "confirmation_code": code, "reason": "worth it"}

    review = client.post(url, form, headers=HTMX)
    assert review.status_code == 200
    assert "Confirm the override" in review.content.decode()
    # The soft cap's change is shown before it happens: 3.5 of 5 is 14 of 20.
    assert (
        "its soft cap from\n    $3.50 to <strong>$14.00</strong> (its share of the hard cap kept)"
        in (review.content.decode())
    )
    assert not BudgetOverride.objects.exists()  # nothing happens before the confirmation

    done = client.post(url, {**form, "confirmed": "True"}, headers=HTMX)
    assert done["HX-Redirect"] == f"/masterplans/{paused.pk}/budget/"
    paused.refresh_from_db()
    assert paused.budget_hard_cap_usd == Decimal("20")
    assert paused.status == MasterPlan.Status.RUNNING
    assert BudgetOverride.objects.get().reason == "worth it"
    assert paused.budget_soft_cap_usd == Decimal("14")


@pytest.mark.django_db
def test_the_approver_sets_the_soft_cap_in_the_override(client, approver, paused):
    code, _ = issue_code(paused)
    client.force_login(approver)
    url = f"/masterplans/{paused.pk}/budget/override/"
    form = {"new_hard_cap": "20", "new_soft_cap": "19", "confirmation_code": code}
    review = client.post(url, form, headers=HTMX).content.decode()
    assert "$3.50 to <strong>$19.00</strong>?" in review
    client.post(url, {**form, "confirmed": "True"}, headers=HTMX)
    paused.refresh_from_db()
    assert (paused.budget_hard_cap_usd, paused.budget_soft_cap_usd) == (Decimal(20), Decimal(19))
    override = BudgetOverride.objects.get()
    assert (override.old_soft_cap_usd, override.new_soft_cap_usd) == (Decimal("3.5"), Decimal(19))
    page = client.get(f"/masterplans/{paused.pk}/budget/").content.decode()
    assert "$5.00 → $20.00 (soft $3.50 → $19.00)" in page


@pytest.mark.django_db
def test_a_wrong_code_on_the_page_is_explained_and_changes_nothing(client, approver, paused):
    client.force_login(approver)
    response = client.post(
        f"/masterplans/{paused.pk}/budget/override/",
        {"new_hard_cap": "20", "confirmation_code": "WRNG-CODE", "confirmed": "True"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "not valid for this masterplan" in response.content.decode()
    paused.refresh_from_db()
    assert paused.budget_hard_cap_usd == Decimal("5")


@pytest.mark.django_db
def test_an_approver_gets_a_new_code_shown_once(client, approver, reviewer, paused):
    client.force_login(reviewer)
    assert client.post(f"/masterplans/{paused.pk}/budget/codes/").status_code == 403
    client.force_login(approver)
    page = client.post(f"/masterplans/{paused.pk}/budget/codes/", follow=True).content.decode()
    assert re.search(r"Confirmation code [A-Z2-9]{4}-[A-Z2-9]{4}, valid once", page)


@pytest.mark.django_db
def test_a_reviewer_lowers_caps_on_the_page_and_a_raise_waits_for_an_approver(
    client, reviewer, imported
):
    masterplan = imported("slugkit")
    client.force_login(reviewer)
    url = f"/masterplans/{masterplan.pk}/budget/caps/"
    saved = client.post(url, {"soft_cap_usd": "2", "hard_cap_usd": "4"}, follow=True)
    assert "Caps saved." in saved.content.decode()
    held = client.post(url, {"soft_cap_usd": "2", "hard_cap_usd": "40"}, follow=True)
    assert "The hard cap of $40.000000 needs a budget approver" in held.content.decode()
    assert "Cap request waiting for an approver" in held.content.decode()
    assert ">Grant</button>" not in held.content.decode()  # a reviewer cannot decide it
    masterplan.refresh_from_db()
    assert (masterplan.budget_soft_cap_usd, masterplan.budget_hard_cap_usd) == (
        Decimal(2),
        Decimal(4),
    )


@pytest.mark.django_db
def test_the_list_reads_every_budget_bar_at_once(client, viewer, imported):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(viewer)

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/").status_code == 200
        return len(captured)

    imported("slugkit")
    client.get("/")  # the viewer's permissions read once, then kept (mge_site/auth_backend.py)
    with_one = queries_for_the_list()
    for name in ("typed-event-bus", "inventory-service", "slugkit"):
        imported(name)
    assert queries_for_the_list() == with_one
