"""Transient provider trouble is waited out; a permanent refusal fails the atom at once
with what to fix. Through the real SDK against the stub."""

from __future__ import annotations

import time

from budget.models import CostEntry
from conftest import billed_usd, engine_db
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan
from execution.tasks import probe_provider


@engine_db
def test_bursts_of_429_529_and_500_are_waited_out_and_every_atom_completes(
    imported, stub_server, run_jobs
):
    # Twelve errors in a row: more than the SDK's own retries (three tries a call here).
    stub_server.configure(scheduled_statuses=[429, 529, 500] * 4)
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    atoms = list(masterplan.atoms.all())
    assert {atom.status for atom in atoms} == {Atom.Status.COMPLETED}
    assert sum(atom.provider_retries for atom in atoms) >= 2
    assert all(atom.attempts == 1 for atom in atoms)  # provider trouble is no bad answer
    stats = stub_server.stats
    assert stats.by_status[429] + stats.by_status[529] + stats.by_status[500] == 12
    # Every answered call is in the ledger once, and only those: errors are not billed.
    entries = CostEntry.objects.filter(masterplan=masterplan)
    assert entries.count() == stats.by_status[200] == len(atoms)
    assert all(entry.cost_usd > 0 for entry in entries)


@engine_db
def test_a_refused_key_fails_the_atom_at_once_saying_what_to_fix(imported, stub_server, run_jobs):
    stub_server.configure(failing_atoms={"slugify": 401})
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    slugify = masterplan.atoms.get(name="slugify")
    assert slugify.status == Atom.Status.FAILED
    assert slugify.last_error == "the provider answered 401: injected 401 (check ANTHROPIC_API_KEY)"
    assert slugify.provider_retries == 0
    assert stub_server.stats.calls_by_atom["slugify"] == 1  # neither the SDK nor we ask again


@engine_db
def test_answers_cut_off_mid_body_among_errors_are_asked_again_and_billed_once(
    imported, stub_server, run_jobs
):
    # 0: an answer whose connection drops halfway through its body.
    stub_server.configure(scheduled_statuses=[0, 429, 0, 529, 500, 0, 0, 500, 0])
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    stats = stub_server.stats
    assert stats.dropped == 5
    names = set(masterplan.atoms.values_list("name", flat=True))
    # One whole answer per atom: each file was written once.
    assert dict(stats.answers_by_atom) == dict.fromkeys(names, 1)
    # The ledger is what the provider billed, to the micro-dollar.
    assert CostEntry.objects.filter(masterplan=masterplan).total() == billed_usd(stub_server) > 0


@engine_db
def test_a_provider_down_past_the_retry_budget_pauses_the_plan_until_a_probe_answers(
    imported, stub_server, run_jobs, settings
):
    settings.MGE_LLM_PROVIDER_RETRIES = 2
    stub_server.configure(down_status=529)
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.PAUSED_PROVIDER
    assert masterplan.status_reason.startswith("Paused: the provider has not answered since ")
    assert "the provider answered 529: the provider is down" in masterplan.status_reason
    assert "resumes once it answers" in masterplan.status_reason
    atoms = list(masterplan.atoms.all())
    # Nothing failed nor is blocked: the atoms that tried wait, with the cause.
    assert {atom.status for atom in atoms} == {Atom.Status.PENDING}
    waiting = [atom for atom in atoms if atom.last_error]
    assert waiting and all(
        atom.last_error.startswith("the provider did not answer: the provider answered 529")
        for atom in waiting
    )
    assert CostEntry.objects.filter(masterplan=masterplan).count() == 0  # errors are free

    assert probe_provider() == []  # still down: the plan stays paused
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.PAUSED_PROVIDER

    stub_server.configure(down_status=None)
    assert probe_provider() == [str(masterplan.pk)]
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    assert set(masterplan.atoms.values_list("status", flat=True)) == {Atom.Status.COMPLETED}


@engine_db
def test_an_atom_the_provider_always_errs_on_fails_after_its_attempts_not_for_ever(
    imported, stub_server, run_jobs, settings
):
    settings.MGE_LLM_PROVIDER_RETRIES = 1
    stub_server.configure(failing_atoms={"slugify": 500})
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    for _ in range(3):  # each pause counts an attempt; the probe finds the provider up
        run_jobs()
        masterplan.refresh_from_db()
        assert masterplan.status == MasterPlan.Status.PAUSED_PROVIDER
        assert probe_provider() == [str(masterplan.pk)]
    run_jobs()
    slugify = masterplan.atoms.get(name="slugify")
    assert slugify.status == Atom.Status.FAILED
    assert slugify.last_error == (
        "no attempts left: the provider did not answer: the provider answered 500: "
        "injected 500 (asked 1 more times after a pause)"
    )
    assert stub_server.stats.calls_by_atom["slugify"] == 18  # 3 × 2 calls × (1 + 2 SDK retries)
    atoms = {atom.name: atom for atom in masterplan.atoms.all()}
    assert atoms["unique_slugger"].status == Atom.Status.BLOCKED
    assert "slugify" in atoms["unique_slugger"].last_error
    assert atoms["truncate_slug"].status == Atom.Status.COMPLETED  # independent: went on
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.FAILED
    assert masterplan.status_reason.startswith("1 atom failed (slugify); 2 blocked by them.")


@engine_db
def test_three_plans_against_a_provider_that_holds_one_request_and_errs_all_complete(
    imported, stub_server, spawn_worker, run_jobs
):
    # The report's setting: one request at a time (429, retry-after: 1), 5 % of calls 500.
    stub_server.configure(capacity=1, retry_after_seconds=1, error_every=20, latency_ms=50)
    plans = [imported(name) for name in ("slugkit", "typed-event-bus", "inventory-service")]
    for masterplan in plans:
        start_masterplan(masterplan.pk)
    workers = [
        spawn_worker(MGE_CONCURRENCY_MIN="1", MGE_LLM_BACKOFF_BASE_SECONDS="0.5",
                     MGE_LLM_BACKOFF_MAX_SECONDS="4")
        for _ in plans
    ]  # fmt: skip
    for worker in workers:
        worker.wait(timeout=240)
    deadline = time.monotonic() + 240
    while MasterPlan.objects.filter(pk__in=[plan.pk for plan in plans], status="running"):
        assert time.monotonic() < deadline, "the plans never ended"
        probe_provider()  # a plan paused for its provider goes on once it answers
        run_jobs()  # waves queued after the burst workers left, and the checks

    for masterplan in plans:
        masterplan.refresh_from_db()
        assert masterplan.status in (MasterPlan.Status.COMPLETED, MasterPlan.Status.GATE_FAILED), (
            masterplan.name, masterplan.status, masterplan.status_reason,
        )  # fmt: skip
        assert set(masterplan.atoms.values_list("status", flat=True)) == {Atom.Status.COMPLETED}
    stats = stub_server.stats
    assert stats.by_status[429] > 0 and stats.by_status[500] > 0  # the trouble happened
    assert CostEntry.objects.total() == billed_usd(stub_server)
