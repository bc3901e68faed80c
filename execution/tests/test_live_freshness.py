"""The live region of a masterplan's page answers 304 while nothing it shows has changed,
and a full answer as soon as anything has — whoever wrote it, by whatever path."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client

from acceptance.models import AcceptanceTest, Requirement, TestResult, TestRun
from budget.counters import BudgetCounters
from budget.models import CostEntry
from conftest import engine_db, independent_atoms
from execution.actions import import_masterplan
from execution.models import Atom, MasterPlan
from execution.pages.atoms_table import ATOMS_PER_PAGE
from execution.tests.test_masterplan_format import MINIMAL

# Row versions are transaction ids: the writes must be committed, each in its own
# transaction, as they are outside tests.
committed = engine_db

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

LIVE = {"HX-Request": "true", "HX-Target": "live"}


def poll(
    client: Client, masterplan: MasterPlan, etag: str | None = None, **query: str
) -> _MonkeyPatchedWSGIResponse:
    headers = LIVE | ({"If-None-Match": etag} if etag else {})
    return client.get(f"/masterplans/{masterplan.pk}/", query, headers=headers)


@pytest.fixture
def plan(db: None) -> MasterPlan:
    return import_masterplan(MINIMAL)


@committed
def test_an_unchanged_live_region_is_a_304_without_a_body(client, viewer, plan):
    client.force_login(viewer)
    first = poll(client, plan)
    assert first.status_code == 200 and first["ETag"].startswith('"')
    assert first["Cache-Control"] == "private, no-cache"
    assert {"HX-Request", "HX-Target", "Cookie"} <= {v.strip() for v in first["Vary"].split(",")}
    again = poll(client, plan, first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"]
    # A proxy that compresses the answer hands the browser a weak ETag.
    assert poll(client, plan, f"W/{first['ETag']}").status_code == 304


@committed
def test_every_kind_of_write_the_page_shows_gives_a_full_answer(client, viewer, plan):
    client.force_login(viewer)
    atom = plan.atoms.first()
    assert atom is not None
    writes = {
        # update() bypasses save() and auto_now: the version must not rely on them
        "an atom's status": lambda: Atom.objects.filter(pk=atom.pk).update(status="running"),
        "the plan's status": lambda: MasterPlan.objects.filter(pk=plan.pk).update(
            status_reason="held for checks"
        ),
        "a ledger row": lambda: CostEntry.objects.create(
            masterplan=plan, model="claude-haiku-4-5", cost_usd=Decimal("0.01"), reservation_id="r1"
        ),
        "a reservation in Redis": lambda: _reserve(plan),
        "an acceptance result": lambda: _test_result(plan),
    }
    etag = poll(client, plan)["ETag"]
    for what, write in writes.items():
        write()
        answer = poll(client, plan, etag)
        assert answer.status_code == 200, f"{what} did not change the ETag"
        assert answer["ETag"] != etag
        etag = answer["ETag"]
        assert poll(client, plan, etag).status_code == 304, f"after {what}"


@committed
def test_the_etag_is_per_user_and_per_view_of_the_table(client, viewer, reviewer, plan):
    client.force_login(viewer)
    etag = poll(client, plan)["ETag"]
    assert poll(client, plan, etag, status="failed").status_code == 200
    client.force_login(reviewer)  # more buttons: another answer
    assert poll(client, plan, etag).status_code == 200


@committed
def test_the_whole_page_and_an_unknown_plan_are_not_cached(client, viewer, plan):
    client.force_login(viewer)
    page = client.get(f"/masterplans/{plan.pk}/")
    assert page.status_code == 200 and not page.has_header("ETag")
    gone = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/masterplans/{gone}/", headers=LIVE).status_code == 404


@committed
def test_the_atoms_table_shows_a_page_and_finds_the_page_of_an_atom(client, viewer):
    atoms = ATOMS_PER_PAGE + 20
    plan = import_masterplan(independent_atoms(atoms, hard_cap="50"))
    MasterPlan.objects.filter(pk=plan.pk).update(status=MasterPlan.Status.RUNNING)  # it polls
    client.force_login(viewer)
    first = poll(client, plan).content.decode()
    assert first.count('<tr id="atom-') == ATOMS_PER_PAGE
    assert f"atoms 1–{ATOMS_PER_PAGE} of {atoms}" in first and "next →" in first
    second = poll(client, plan, page="2").content.decode()
    assert second.count('<tr id="atom-') == 20 and "← previous" in second
    assert f'hx-get="/masterplans/{plan.pk}/?page=2"' in second  # the poll keeps the page
    last = plan.atoms.order_by("wave__number", "source_line", "pk").last()
    assert last is not None
    located = poll(client, plan, atom=str(last.pk)).content.decode()
    assert f'id="atom-{last.pk}"' in located
    for nonsense in ({"page": "x"}, {"page": "999"}, {"atom": "not-an-id"}, {"status": "odd"}):
        assert poll(client, plan, **nonsense).status_code == 200


def _reserve(plan: MasterPlan) -> None:
    counters = BudgetCounters()
    counters.load(plan.pk, plan.budget_hard_cap_usd, plan.budget_soft_cap_usd, Decimal(0))
    counters.reserve(plan.pk, Decimal("0.05"), ttl_seconds=60)


def _test_result(plan: MasterPlan) -> None:
    requirement = Requirement.objects.create(
        masterplan=plan, text="It works.", priority="must", source_line=1, position=0
    )
    test = AcceptanceTest.objects.create(
        masterplan=plan, requirement=requirement, code="def test_x(): pass",
        file_path="tests/test_x.py", framework="pytest", generated_by="template",
    )  # fmt: skip
    run = TestRun.objects.create(masterplan=plan)
    TestResult.objects.create(run=run, test=test, status=TestResult.Status.PASSED)


@committed
def test_the_acceptance_pages_live_region_answers_304_until_a_run_moves(client, viewer, plan):
    client.force_login(viewer)
    url = f"/masterplans/{plan.pk}/acceptance/"
    headers = {"HX-Request": "true"}
    etag = client.get(url, headers=headers)["ETag"]
    assert client.get(url, headers=headers | {"If-None-Match": etag}).status_code == 304
    TestRun.objects.create(masterplan=plan)
    moved = client.get(url, headers=headers | {"If-None-Match": etag})
    assert moved.status_code == 200 and moved["ETag"] != etag


@pytest.mark.django_db
def test_without_row_versions_sqlite_every_poll_is_answered_in_full(
    client, viewer, plan, monkeypatch
):
    monkeypatch.setattr(connection, "vendor", "sqlite")  # make run's database by default
    client.force_login(viewer)
    answer = poll(client, plan, '"anything"')
    assert answer.status_code == 200 and not answer.has_header("ETag")
    assert 'id="atoms"' in answer.content.decode()
