"""Transient provider trouble is waited out; a permanent refusal fails the atom at once
with what to fix. Through the real SDK against the stub."""

from __future__ import annotations

from budget.models import CostEntry
from conftest import engine_db
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan


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
