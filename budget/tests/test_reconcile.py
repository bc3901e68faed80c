"""`mge budget reconcile`: estimated entries take the figures of the provider's usage
report (the Admin API, served by the stub from what it billed)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from budget.abandoned import settle_abandoned_calls
from budget.counters import BudgetCounters
from budget.guardrails import load_counters
from budget.holders import Holder
from budget.models import CostEntry
from budget.pricing import cost_of
from conftest import billed_usd
from execution.llm import gateway
from execution.llm.stub_server import STUB_API_KEY_ID
from execution.llm.types import LLMRequest


def request_of(masterplan, text: str) -> LLMRequest:  # type: ignore[no-untyped-def]
    return LLMRequest(
        model="claude-haiku-4-5", system="You write code.",
        messages=[{"role": "user", "content": text}], max_tokens=2000,
        masterplan_id=str(masterplan.pk), atom_id=str(masterplan.atoms.first().pk),
        cache="no-store",
    )  # fmt: skip


@pytest.fixture
def lost_call(imported, stub_server):
    """A plan with one settled call and one the provider billed but whose worker died
    (settled at an estimate)."""
    masterplan = imported("slugkit")
    load_counters(masterplan.pk)
    gateway.complete(request_of(masterplan, "a settled call " * 30))
    lost = request_of(masterplan, "a call nobody heard the answer of " * 80)
    stub_server.configure(atom_texts={"": ["a much longer answer " * 60]})
    gateway.get_provider().complete(lost)  # billed; the worker died before it settled
    counters = BudgetCounters()
    worst = Decimal("0.02")
    counters.reserve(masterplan.pk, worst, 60, Holder.of(lost, worst).to_json())
    assert lost.atom_id is not None
    assert settle_abandoned_calls(masterplan.pk, [lost.atom_id]) == 1
    return masterplan


@pytest.mark.django_db
def test_an_estimated_entry_takes_the_reports_figures_and_the_ledger_the_bill(
    lost_call, stub_server, settings, capsys, django_capture_on_commit_callbacks
):
    settings.ANTHROPIC_ADMIN_API_KEY = "sk-ant-admin-test"
    settings.MGE_USAGE_REPORT_API_KEY_ID = STUB_API_KEY_ID
    estimated = CostEntry.objects.get(kind=CostEntry.Kind.ESTIMATED)
    ledger = CostEntry.objects.filter(masterplan=lost_call)
    assert ledger.total() != billed_usd(stub_server)  # the output was a guess

    call_command("mge", "budget", "reconcile", "--dry-run")
    assert "1 estimated entries" in capsys.readouterr().out
    assert CostEntry.objects.get(pk=estimated.pk).kind == CostEntry.Kind.ESTIMATED

    with django_capture_on_commit_callbacks(execute=True):
        call_command("mge", "budget", "reconcile")
    out = capsys.readouterr().out
    lost_bill = stub_server.stats.billed[1]
    assert f"${estimated.cost_usd} now ${cost_of(lost_bill.model, lost_bill.usage)}" in out
    estimated.refresh_from_db()
    assert estimated.kind == CostEntry.Kind.RECONCILED
    assert (estimated.input_tokens, estimated.output_tokens) == (
        lost_bill.usage.input_tokens, lost_bill.usage.output_tokens,
    )  # fmt: skip
    assert ledger.total() == billed_usd(stub_server)
    snapshot = BudgetCounters().snapshot(lost_call.pk)
    assert snapshot is not None and snapshot.spent_usd == ledger.total()

    call_command("mge", "budget", "reconcile")  # nothing estimated is left
    assert "nothing to correct" in capsys.readouterr().out


@pytest.mark.django_db
def test_without_an_admin_key_or_the_key_id_it_says_what_is_missing(lost_call, settings):
    settings.ANTHROPIC_ADMIN_API_KEY = None
    with pytest.raises(CommandError, match="ANTHROPIC_ADMIN_API_KEY is not set") as refused:
        call_command("mge", "budget", "reconcile")
    assert refused.value.returncode == 2
    settings.ANTHROPIC_ADMIN_API_KEY = "sk-ant-admin-test"
    settings.MGE_USAGE_REPORT_API_KEY_ID = None
    with pytest.raises(CommandError, match="MGE_USAGE_REPORT_API_KEY_ID is not set"):
        call_command("mge", "budget", "reconcile")
    settings.MGE_USAGE_REPORT_API_KEY_ID = STUB_API_KEY_ID
    settings.ANTHROPIC_ADMIN_API_KEY = "sk-ant-api-not-an-admin-key"
    with pytest.raises(CommandError, match="the usage report answered 401"):
        call_command("mge", "budget", "reconcile")
    with pytest.raises(CommandError, match="'yesterday' is not an age like 7d or 36h"):
        call_command("mge", "budget", "reconcile", "--since", "yesterday")
    assert CostEntry.objects.get(kind=CostEntry.Kind.ESTIMATED)  # unchanged throughout
