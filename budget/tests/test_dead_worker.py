"""A worker killed with calls at the provider: its calls are settled at an estimate when
their atoms' leases lapse, close to what the provider billed; a late answer corrects."""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal
from pathlib import Path

import pytest

from budget.abandoned import estimate_call, settle_abandoned_calls
from budget.counters import BudgetCounters
from budget.guardrails import budget_guard
from budget.holders import Holder
from budget.models import CostEntry
from budget.pricing import cost_of
from budget.status import budget_status
from conftest import billed_usd, engine_db, independent_atoms
from execution.actions import import_masterplan
from execution.llm.types import Call, LLMError, LLMRequest, LLMResponse, Usage
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan
from execution.tasks import release_stale_atoms


@engine_db
def test_a_killed_workers_calls_are_settled_soon_near_what_the_provider_billed(
    stub_server, spawn_worker, settings, run_jobs
):
    settings.MGE_ATOM_LEASE_SECONDS = 2
    masterplan = import_masterplan(independent_atoms(16, hard_cap="5"))
    start_masterplan(masterplan.pk)
    stub_server.configure(latency_ms=1500)
    worker = spawn_worker(
        MGE_CONCURRENCY_INITIAL="8", MGE_CONCURRENCY_MIN="1", MGE_RAMP_UP_MIN_ATOMS="1000",
        MGE_ATOM_LEASE_SECONDS="2",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    # Eight answered and settled, eight more at the provider: kill.
    while not (
        masterplan.atoms.filter(status=Atom.Status.COMPLETED).count() == 8
        and stub_server.stats.in_flight == 8
    ):
        assert time.monotonic() < deadline, "the worker never got eight calls in flight"
        assert worker.poll() is None, "the worker ended before it was killed"
        time.sleep(0.02)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    in_flight = set(
        masterplan.atoms.filter(status=Atom.Status.RUNNING).values_list("name", flat=True)
    )
    assert len(in_flight) == 8

    # Until they are settled, their worst cases stay reserved: the hard cap holds.
    counters = BudgetCounters()
    snapshot = counters.snapshot(masterplan.pk)
    assert snapshot is not None
    held = [Holder.from_json(text) for text in counters.holders(masterplan.pk).values()]
    assert snapshot.reserved_usd == sum(holder.worst_usd for holder in held if holder)
    assert len(held) == 8

    time.sleep(settings.MGE_ATOM_LEASE_SECONDS + 0.3)  # the dead worker renews nothing
    time.sleep(1.5)  # the provider finishes (and bills) the eight calls nobody reads
    assert release_stale_atoms() == [str(masterplan.pk)]  # the scheduler's sweep

    # Settled at the sweep, one lease period after the death, not at the 15-minute TTL.
    estimated = CostEntry.objects.filter(masterplan=masterplan, kind=CostEntry.Kind.ESTIMATED)
    assert set(estimated.values_list("atom__name", flat=True)) == in_flight
    assert counters.snapshot(masterplan.pk).reserved_usd == 0  # type: ignore[union-attr]
    assert counters.holders(masterplan.pk) == {}
    billed_inputs = {bill.usage.input_tokens for bill in stub_server.stats.billed}
    assert all(entry.input_tokens in billed_inputs for entry in estimated)  # counted exactly
    assert all(entry.requested_at is not None for entry in estimated)
    state = budget_status(masterplan)
    assert state.estimated_usd == sum(entry.cost_usd for entry in estimated) > 0

    stub_server.configure(latency_ms=0)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    ledger = CostEntry.objects.filter(masterplan=masterplan).total()
    billed = billed_usd(stub_server)
    ratio = ledger / billed
    assert Decimal("0.9") <= ratio <= Decimal("1.25"), (ledger, billed)
    # Each atom's file was written by one answer: the eight lost ones went to nobody.
    answers = stub_server.stats.answers_by_atom
    assert {name for name, count in answers.items() if count == 2} == in_flight
    assert sum(answers.values()) == 16 + 8
    assert len(list((Path(masterplan.workspace_path) / "gen").glob("a*.py"))) == 16


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["answers", "errs"])
def test_a_slow_worker_thought_dead_corrects_its_estimate_with_the_true_figures(
    stub_server, imported, client, viewer, provider
):
    masterplan = imported("slugkit")
    atom_id = str(masterplan.atoms.values_list("pk", flat=True).first())
    request = LLMRequest(
        model="claude-haiku-4-5", system="s", messages=[{"role": "user", "content": "x" * 400}],
        max_tokens=1000, masterplan_id=str(masterplan.pk), atom_id=atom_id,
    )  # fmt: skip
    true_usage = Usage(input_tokens=100, output_tokens=40)
    seen = {}
    client.force_login(viewer)

    def at_the_provider(call: Call) -> LLMResponse:
        # Meanwhile the atom's lease lapses, and the sweep settles its call at an estimate.
        assert settle_abandoned_calls(masterplan.pk, [atom_id]) == 1
        entry = CostEntry.objects.get(masterplan=masterplan)
        seen["estimate"] = (entry.kind, entry.input_tokens, entry.output_tokens, entry.cost_usd)
        seen["page"] = client.get(f"/masterplans/{masterplan.pk}/budget/").content.decode()
        if provider == "errs":
            raise LLMError("the provider answered 500", status_code=500)
        return LLMResponse("late", "claude-haiku-4-5", true_usage)

    if provider == "errs":
        with pytest.raises(LLMError):
            budget_guard(Call(request), at_the_provider)
    else:
        budget_guard(Call(request), at_the_provider)

    # No settled call of the plan yet: the output was taken at its limit.
    assert seen["estimate"] == ("estimated", 100, 1000, Decimal("0.005100"))  # 100×$1 + 1000×$5 /M
    page = seen["page"]
    assert '<span class="pill warn"' in page and ">estimated</span>" in page
    assert "$0.0051 (est. $0.0051) / $5.00" in page
    assert '<span class="spent estimated" style="width: 0.1%">' in page
    # The answer (or the error: not billed) corrects the estimate, in the ledger and Redis.
    true_cost = cost_of("claude-haiku-4-5", true_usage) if provider == "answers" else Decimal(0)
    entry = CostEntry.objects.get(masterplan=masterplan)
    assert (entry.kind, entry.cost_usd) == ("settled", true_cost)
    assert entry.output_tokens == (40 if provider == "answers" else 0)
    snapshot = BudgetCounters().snapshot(masterplan.pk)
    assert snapshot is not None and snapshot.spent_usd == true_cost


@pytest.mark.django_db
def test_the_output_estimate_is_the_median_of_the_plans_settled_calls_of_that_model(
    imported, fast_offline
):
    masterplan = imported("slugkit")
    for number, output in enumerate([10, 30, 1000]):
        CostEntry.objects.create(
            masterplan=masterplan, model="claude-haiku-4-5", output_tokens=output,
            cost_usd=Decimal("0.001"), reservation_id=f"r{number}",
        )  # fmt: skip
    CostEntry.objects.create(  # another model's calls say nothing of this one
        masterplan=masterplan, model="claude-opus-4-5", output_tokens=9000,
        cost_usd=Decimal("0.1"), reservation_id="other",
    )  # fmt: skip
    request = LLMRequest(
        model="claude-haiku-4-5", system="", messages=[{"role": "user", "content": "y" * 80}],
        max_tokens=4000,
    )  # fmt: skip
    estimate = estimate_call(str(masterplan.pk), Holder.of(request, Decimal("1")))
    assert (estimate.usage.input_tokens, estimate.usage.output_tokens) == (20, 30)
    assert estimate.cost_usd == Decimal("0.000170")  # 20 × $1/M + 30 × $5/M
    assert "median of 3 settled calls" in estimate.basis
    # Never more than what was reserved for the call.
    assert estimate_call(str(masterplan.pk), Holder.of(request, Decimal("0.0001"))).cost_usd == (
        Decimal("0.0001")
    )


@pytest.mark.django_db
def test_without_the_providers_token_count_the_input_is_bounded_by_the_prompts_bytes(
    imported, stub_server
):
    stub_server.configure(down_status=529)
    masterplan = imported("slugkit")
    request = LLMRequest(
        model="claude-haiku-4-5", system="sys", messages=[{"role": "user", "content": "é" * 40}],
        max_tokens=100,
    )  # fmt: skip
    estimate = estimate_call(str(masterplan.pk), Holder.of(request, Decimal("1")))
    assert estimate.usage.input_tokens == 3 + 80  # "é" is two bytes in UTF-8
    assert "input bounded by its bytes (the provider answered 529" in estimate.basis
