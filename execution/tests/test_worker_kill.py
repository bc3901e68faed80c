"""A worker killed with SIGKILL mid-wave: nothing completed runs again, the rest finishes."""

from __future__ import annotations

import os
import signal
import time

from conftest import engine_db
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import resume_masterplan, start_masterplan


def names(masterplan: MasterPlan, status: str) -> set[str]:
    return set(masterplan.atoms.filter(status=status).values_list("name", flat=True))


@engine_db
def test_a_killed_worker_reruns_only_its_in_flight_atoms_once(
    imported, stub_server, run_jobs, settings, spawn_worker
):
    settings.MGE_ATOM_LEASE_SECONDS = 2
    stub_server.configure(latency_ms=1500)
    masterplan = imported("slugkit")  # wave 1: three independent atoms
    start_masterplan(masterplan.pk)
    worker = spawn_worker(
        MGE_CONCURRENCY_INITIAL="2",  # two in flight, the third waits its turn
        MGE_CONCURRENCY_MIN="1",
        MGE_ATOM_LEASE_SECONDS="2",
    )
    deadline = time.monotonic() + 60
    # Kill once two atoms completed and the third's call is at the provider.
    while not (
        len(names(masterplan, Atom.Status.COMPLETED)) == 2
        and len(names(masterplan, Atom.Status.RUNNING)) == 1
        and stub_server.stats.in_flight == 1
    ):
        assert time.monotonic() < deadline, "the worker never got mid-wave"
        assert worker.poll() is None, "the worker ended before it was killed"
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    completed_before = names(masterplan, Atom.Status.COMPLETED)
    in_flight = names(masterplan, Atom.Status.RUNNING)
    assert len(completed_before) == 2 and len(in_flight) == 1

    time.sleep(settings.MGE_ATOM_LEASE_SECONDS + 0.5)  # the dead worker renews nothing
    stub_server.configure(latency_ms=0)
    resume_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    calls = stub_server.stats.calls_by_atom
    assert {name: calls[name] for name in completed_before} == dict.fromkeys(completed_before, 1)
    assert {name: calls[name] for name in in_flight} == dict.fromkeys(in_flight, 2)
    others = set(calls) - completed_before - in_flight
    assert others == {"slugify", "unique_slugger", "package_init"}
    assert all(calls[name] == 1 for name in others)


@engine_db
def test_the_scheduler_sweep_releases_lapsed_atoms_and_requeues_the_wave(
    imported, fast_offline, run_jobs
):
    from django.utils import timezone

    from execution.tasks import release_stale_atoms

    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    lapsed = masterplan.atoms.get(name="fold_accents")
    # As a killed worker leaves it: running, its lease in the past.
    Atom.objects.filter(pk=lapsed.pk).update(
        status=Atom.Status.RUNNING, lease_expires_at=timezone.now()
    )
    run_jobs()  # the first job runs the other atoms; the lapsed one blocks the wave
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.RUNNING

    assert release_stale_atoms() == [str(masterplan.pk)]
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED


@engine_db
def test_an_atom_released_after_its_last_attempt_fails_instead_of_waiting_forever(
    imported, fast_offline, run_jobs
):
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    Atom.objects.filter(masterplan=masterplan, name="fold_accents").update(attempts=3)
    run_jobs()
    fold = masterplan.atoms.get(name="fold_accents")
    assert fold.status == Atom.Status.FAILED
    assert fold.last_error.startswith("no attempts left")
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.FAILED
