"""The budget on real runs: ledger, soft alert, hard-cap pause, override, the 200-way race."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail

from budget.counters import BudgetCounters
from budget.models import BudgetAlert, BudgetOverride, CostEntry
from conftest import engine_db, independent_atoms
from execution.actions import import_masterplan
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan


def code_from_mail() -> str:
    bodies = "\n".join(str(message.body) for message in mail.outbox)
    codes = re.findall(r"Confirmation code to raise the cap: (\w{4}-\w{4})", bodies)
    assert codes, bodies
    return codes[-1]


@pytest.fixture
def small_answers(settings):
    # A small max_tokens keeps each call's worst case near its real cost, so a cap can
    # hold a predictable number of calls.
    settings.MGE_LLM_MAX_TOKENS = 64


@engine_db
def test_every_call_is_in_the_ledger_and_the_counters_agree(imported, stub_server, run_jobs):
    masterplan = imported("inventory-service")
    start_masterplan(masterplan.pk)
    run_jobs()

    entries = CostEntry.objects.filter(masterplan=masterplan)
    assert entries.count() == stub_server.stats.by_status[200] == 9
    assert all(entry.cost_usd > 0 and entry.wave_id for entry in entries)
    for atom in masterplan.atoms.all():
        assert atom.cost_usd == entries.filter(atom=atom).total()
    snapshot = BudgetCounters().snapshot(masterplan.pk)
    assert snapshot is not None
    assert snapshot.spent_usd == entries.total()
    assert snapshot.reserved_usd == 0


@engine_db
def test_the_soft_cap_alerts_once_and_the_run_goes_on(
    stub_server, run_jobs, approver, small_answers, webhook
):
    masterplan = import_masterplan(independent_atoms(8, hard_cap="5", soft_cap="0.000001"))
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    alerts = BudgetAlert.objects.filter(masterplan=masterplan)
    assert [alert.level for alert in alerts] == ["warning"]
    assert alerts[0].channels == ["log", "database", "email", "webhook"]
    warning_mails = [m for m in mail.outbox if "[MGE budget warning]" in m.subject]
    assert len(warning_mails) == 1 and warning_mails[0].to == [approver.email]
    assert len(webhook) == 1 and "soft cap $0.000001 crossed" in webhook[0]["text"]


@engine_db
def test_the_hard_cap_pauses_and_an_override_lets_the_rest_complete(
    stub_server, run_jobs, approver, api_client_for, small_answers
):
    masterplan = import_masterplan(independent_atoms(30, hard_cap="0.004"))
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.PAUSED_BUDGET
    assert masterplan.cost_paused_at is not None
    spent = CostEntry.objects.filter(masterplan=masterplan).total()
    assert 0 < spent <= Decimal("0.004")
    statuses = list(masterplan.atoms.values_list("status", flat=True))
    assert set(statuses) == {"completed", "pending"}  # refused atoms wait, none failed
    assert statuses.count("completed") == CostEntry.objects.filter(masterplan=masterplan).count()
    levels = sorted(
        BudgetAlert.objects.filter(masterplan=masterplan).values_list("level", flat=True)
    )
    # The soft cap (70 %) warns when spending crossed it before the pause (how close to the
    # hard cap the pause lands depends on the calls in flight when the room ran out).
    crossed = spent >= masterplan.budget_soft_cap_usd
    assert levels == (["critical", "warning"] if crossed else ["critical"])

    client = api_client_for(approver)
    url = f"/api/v2/execution/budget/{masterplan.pk}"
    assert client.get(url).json()["status"] == "PAUSED"
    response = client.post(
        f"{url}/override",
        {"new_hard_cap": "1", "confirmation_code": code_from_mail(), "reason": "demo"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["masterplan_status"] == "running"
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    override = BudgetOverride.objects.get(masterplan=masterplan)
    assert (override.approved_by, override.old_hard_cap_usd, override.new_hard_cap_usd) == (
        approver,
        Decimal("0.004"),
        Decimal("1"),
    )
    assert override.reason == "demo"


@engine_db
def test_200_concurrent_calls_never_overshoot_and_none_is_lost(
    stub_server, run_jobs, approver, api_client_for, settings, small_answers
):
    settings.MGE_CONCURRENCY_INITIAL = 200
    settings.MGE_WAVE_SHARD_SIZE = 200
    settings.MGE_RAMP_UP_MIN_ATOMS = 200  # the whole wave at once: the race under test
    stub_server.configure(latency_ms=50)
    probe = import_masterplan(independent_atoms(1, hard_cap="1"))
    start_masterplan(probe.pk)
    run_jobs()
    one_call = CostEntry.objects.get(masterplan=probe).cost_usd  # what one such call costs
    masterplan = import_masterplan(independent_atoms(200, hard_cap="1"))
    # A cap that fits ~50 of the 200 calls.
    MasterPlan.objects.filter(pk=masterplan.pk).update(
        budget_hard_cap_usd=one_call * 50, budget_soft_cap_usd=one_call * 35
    )
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    cap = masterplan.budget_hard_cap_usd
    spent = CostEntry.objects.filter(masterplan=masterplan).total()
    assert masterplan.status == MasterPlan.Status.PAUSED_BUDGET
    assert spent <= cap
    completed = masterplan.atoms.filter(status=Atom.Status.COMPLETED).count()
    pending = masterplan.atoms.filter(status=Atom.Status.PENDING).count()
    assert completed + pending == 200 and 0 < completed < 200
    # Paused only when no room was left: what stays unused is less than one call's
    # worst case (refusals waited for the calls in flight to settle).
    worst = max(
        CostEntry.objects.filter(masterplan=masterplan).values_list("reserved_usd", flat=True)
    )
    assert cap - spent < worst
    print(
        f"cap ${cap}, spent ${spent}, completed {completed}, unused ${cap - spent}, worst ${worst}"
    )

    response = api_client_for(approver).post(
        f"/api/v2/execution/budget/{masterplan.pk}/override",
        {"new_hard_cap": "100", "confirmation_code": code_from_mail()},
        format="json",
    )
    assert response.status_code == 200
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert CostEntry.objects.filter(masterplan=masterplan).count() == 200
