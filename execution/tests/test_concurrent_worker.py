"""Many plans at once: the worker runs several wave jobs together, the jobs of a process
share one database lane, and the plans take turns for slots."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time

import django_rq
import pytest
from django.db import connection

from conftest import engine_db
from execution.actions import import_masterplan
from execution.models import Atom, MasterPlan
from execution.runtime.concurrency import ConcurrencyLimiter
from execution.runtime.concurrency.waiters import WaitingHere
from execution.runtime.db_lane import DatabaseLane
from execution.runtime.lifecycle import start_masterplan
from execution.runtime.worker import ConcurrentWorker


def two_wave_plan(name: str, atoms_per_wave: int) -> str:
    """Two waves of independent atoms: the second's each depend on one of the first's."""
    atoms = []
    for wave in range(2):
        for index in range(atoms_per_wave):
            depends = f"\n                depends_on: [{name}_w0_a{index}]" if wave else ""
            atoms.append(
                f"              - name: {name}_w{wave}_a{index}\n"
                f"                file: gen/w{wave}/a{index}.py{depends}\n"
                f"                spec: Define {name}_w{wave}_a{index}()."
            )
    return (
        f"---\nname: {name}\n---\n\n## Plan\n\n```yaml\nphases:\n  - name: P\n"
        "    milestones:\n      - name: M\n        tasks:\n          - name: T\n"
        "            atoms:\n" + "\n".join(atoms) + "\n```\n"
    )


def drain(worker_class: type) -> None:
    queues = [django_rq.get_queue(name) for name in ("waves", "tests", "default")]
    worker_class(queues, connection=queues[0].connection).work(burst=True)


@pytest.mark.django_db
def test_the_worker_leaves_the_loaded_code_out_of_the_collectors_passes():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    drain(ConcurrentWorker)  # nothing queued: it starts and ends
    assert "execution.tasks" in sys.modules
    assert gc.get_freeze_count() > 100_000  # Django, the SDK, the apps


@engine_db
def test_one_worker_runs_the_open_waves_of_several_plans_at_once(stub_server):
    stub_server.configure(latency_ms=300)
    plans = [import_masterplan(two_wave_plan(f"plan{n}", 3)) for n in range(3)]
    for plan in plans:
        start_masterplan(plan.pk)
    drain(ConcurrentWorker)  # burst: it ends only once every plan's second wave ran too
    for plan in plans:
        plan.refresh_from_db()
        assert plan.status == MasterPlan.Status.COMPLETED, plan.status_reason
    # A worker of one job at a time held one plan's three atoms at most.
    assert stub_server.stats.max_in_flight > 3
    assert sum(stub_server.stats.calls_by_atom.values()) == 18  # every atom once


@engine_db
def test_a_worker_of_one_job_at_a_time_holds_one_plans_wave(stub_server):
    """The baseline the test above improves on, so its figure means what it says."""
    from rq import SimpleWorker

    stub_server.configure(latency_ms=200)
    plans = [import_masterplan(two_wave_plan(f"solo{n}", 3)) for n in range(2)]
    for plan in plans:
        start_masterplan(plan.pk)
    drain(SimpleWorker)
    assert stub_server.stats.max_in_flight == 3


@engine_db
def test_the_worker_takes_no_more_jobs_than_its_places(settings):
    settings.MGE_WORKER_JOBS = 2
    queue = django_rq.get_queue("default")
    for _ in range(5):
        queue.enqueue("time.sleep", 0.3)
    worker = ConcurrentWorker([queue], connection=queue.connection)
    most = []
    sampler_done = threading.Event()

    def sample() -> None:
        while not sampler_done.is_set():
            most.append(worker.running_jobs())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    worker.work(burst=True)
    elapsed = time.monotonic() - started
    sampler_done.set()
    sampler.join()
    assert max(most) == 2
    assert 0.85 < elapsed < 1.5  # three rounds of two, not five one after another
    assert queue.finished_job_registry.count == 5


@engine_db
def test_a_running_jobs_heartbeat_is_short_so_a_killed_workers_jobs_lapse():
    queue = django_rq.get_queue("waves")
    job = queue.enqueue("time.sleep", 0, job_timeout=6 * 3600)
    worker = ConcurrentWorker([queue], connection=queue.connection)
    # A forking worker's: the monitoring interval and a minute, renewed while it runs
    # (SimpleWorker's would be the job's whole timeout, six hours).
    assert worker.get_heartbeat_ttl(job) == worker.job_monitoring_interval + 60


@engine_db
def test_a_killed_concurrent_worker_loses_no_atom_of_any_plan(
    stub_server, spawn_worker, settings, run_jobs
):
    from execution.tasks import release_stale_atoms

    settings.MGE_ATOM_LEASE_SECONDS = 2
    stub_server.configure(latency_ms=1500)
    plans = [import_masterplan(two_wave_plan(f"kill{n}", 2)) for n in range(2)]
    for plan in plans:
        start_masterplan(plan.pk)
    worker = spawn_worker("execution.runtime.worker.ConcurrentWorker", MGE_ATOM_LEASE_SECONDS="2")
    deadline = time.monotonic() + 60
    while stub_server.stats.in_flight < 4:  # both plans' first waves at the provider
        assert time.monotonic() < deadline, "the worker never ran both plans at once"
        assert worker.poll() is None
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    assert Atom.objects.filter(status=Atom.Status.RUNNING).count() == 4

    time.sleep(settings.MGE_ATOM_LEASE_SECONDS + 0.5)  # the dead worker renews nothing
    stub_server.configure(latency_ms=0)
    assert sorted(release_stale_atoms()) == sorted(str(plan.pk) for plan in plans)
    run_jobs()
    for plan in plans:
        plan.refresh_from_db()
        assert plan.status == MasterPlan.Status.COMPLETED, plan.status_reason
    calls = stub_server.stats.calls_by_atom
    assert all(calls[f"kill{n}_w0_a{i}"] == 2 for n in range(2) for i in range(2))
    assert all(calls[f"kill{n}_w1_a{i}"] == 1 for n in range(2) for i in range(2))


# --- one database lane per process -------------------------------------------------------------


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def backends_gone(pids: set[int], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)]
            )
            if cursor.fetchone()[0] == 0:
                return True
        time.sleep(0.05)
    return False


@engine_db
def test_the_jobs_of_a_process_share_one_lane_and_it_closes_with_the_last(settings):
    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL's connections")
    settings.MGE_DB_LANE_CONNECTIONS = 3
    with DatabaseLane() as first, DatabaseLane() as second:
        assert first._connections is second._connections
        served_by: list[int] = []

        def slowly_tell_the_backend() -> int:
            time.sleep(0.2)
            return backend_pid()

        def call(lane: DatabaseLane) -> None:
            served_by.append(lane.run(slowly_tell_the_backend))

        # Twelve calls at once from two jobs: three connections serve them all.
        callers = [threading.Thread(target=call, args=(lane,)) for lane in (first, second) * 6]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        assert len(served_by) == 12 and len(set(served_by)) == 3, served_by
    # Closed with the last job (a backend leaves pg_stat_activity a moment after its
    # client hung up).
    assert backends_gone(set(served_by))
    with DatabaseLane() as third:  # a new first job opens a new lane
        assert third.run(lambda: 1) == 1


@engine_db
def test_the_lane_outlives_its_last_job_for_the_idle_time_only(settings):
    if connection.vendor != "postgresql":
        pytest.skip("names PostgreSQL's backends")
    settings.MGE_DB_LANE_CONNECTIONS = 1
    settings.MGE_DB_LANE_IDLE_SECONDS = 1
    with DatabaseLane() as first:
        backend = first.run(backend_pid)
        lane = first._connections
    # The next wave's job, a moment later, finds the lane and its connection open.
    time.sleep(0.3)
    with DatabaseLane() as second:
        assert second._connections is lane
        assert second.run(backend_pid) == backend
    assert backends_gone({backend})  # idle for a second: closed
    with DatabaseLane() as third:  # and a later job opens a new one
        assert third._connections is not lane
        backend = third.run(backend_pid)
        settings.MGE_DB_LANE_IDLE_SECONDS = 0  # closed as it ends: none left to the next test
    assert backends_gone({backend})


@engine_db
def test_the_lane_tells_the_databases_time_from_the_wait_for_a_lane_thread(settings):
    settings.MGE_DB_LANE_CONNECTIONS = 1
    limiter = ConcurrencyLimiter()
    with DatabaseLane() as busy, DatabaseLane() as waiting:
        slow = threading.Thread(target=busy.run, args=(time.sleep, 0.4))
        slow.start()
        time.sleep(0.05)  # the lane's one thread is busy sleeping
        waiting.run(lambda: None)
        slow.join()
        assert waiting.wait_ms[0] > 250 and waiting.query_ms[0] < 50
        assert busy.query_ms[0] >= 400
    signals = limiter.signals()
    # The slow "query" is the database's signal; the wait behind it is not.
    assert signals["db_p95_ms"] is not None and signals["db_p95_ms"] >= 400
    assert signals["db_wait_p95_ms"] is not None and signals["db_wait_p95_ms"] > 250


@pytest.mark.django_db
def test_the_concurrency_page_shows_the_lane_wait_apart(client, viewer):
    ConcurrencyLimiter().record_db_ms([3.0] * 5, [180.0] * 5)
    client.force_login(viewer)
    page = client.get("/dashboards/concurrency/").content.decode()
    assert 'data-testid="db-p95">3.0 ms<' in page
    assert "waiting for the worker's lane 180.0 ms (a busy process, not counted)" in page


# --- plans take turns for slots ---------------------------------------------------------------


def test_waiting_plans_take_turns_first_come_first_served_within_a_plan():
    waiting = WaitingHere()
    served: list[str] = []
    places = []
    with_places = [("big", n) for n in range(4)] + [("small", 0), ("other", 0), ("small", 1)]
    for group, number in with_places:
        place = waiting.place(group)
        places.append((f"{group}{number}", place, place.__enter__()))
    while places:
        first = next(entry for entry in places if waiting.is_first(entry[2]))
        assert first[2].is_set()  # the first is told to try
        served.append(first[0])
        first[1].__exit__(None, None, None)
        places.remove(first)
    assert served == ["big0", "small0", "other0", "big1", "small1", "big2", "big3"]


def test_a_waiter_that_gives_up_does_not_cost_its_plan_a_turn():
    waiting = WaitingHere()
    a = waiting.place("a")
    first = a.__enter__()
    b0, b1 = waiting.place("b"), waiting.place("b")
    b0.__enter__()
    b1_turn = b1.__enter__()
    c = waiting.place("c")
    c_turn = c.__enter__()
    b0.__exit__(None, None, None)  # not first: gave up (its thread stopped)
    assert waiting.is_first(first)
    a.__exit__(None, None, None)
    assert waiting.is_first(b1_turn) and b1_turn.is_set()
    b1.__exit__(None, None, None)
    assert waiting.is_first(c_turn)
    c.__exit__(None, None, None)


# --- plans side by side --------------------------------------------------------------------------


def finish_order(*plans: MasterPlan) -> list[str]:
    """The plans' atoms' names in the order they finished."""
    return list(
        Atom.objects.filter(masterplan__in=plans)
        .order_by("finished_at")
        .values_list("masterplan__name", flat=True)
    )


@engine_db
def test_a_small_plan_is_not_starved_by_a_large_one_started_before_it(stub_server, settings):
    from conftest import independent_atoms

    settings.MGE_WAVE_SHARD_SIZE = 1  # the large plan's wave: twelve jobs, twelve waiters
    ConcurrencyLimiter().set_limit(2, "test")
    # Long enough that the worker's taking its fourteen jobs does not decide the order.
    stub_server.configure(latency_ms=400)
    large = import_masterplan(independent_atoms(12, "100"))
    small = import_masterplan(independent_atoms(2, "100"))
    start_masterplan(large.pk)
    start_masterplan(small.pk)
    drain(ConcurrentWorker)
    for plan in (large, small):
        plan.refresh_from_db()
        # Twelve shards of one wave at once: none of their ledger rows deadlocked with a
        # shard closing the wave.
        assert plan.status == MasterPlan.Status.COMPLETED, plan.status_reason
    order = finish_order(large, small)
    assert set(order) == {large.name, small.name} and len(order) == 14
    # Its two atoms took turns with the large plan's twelve, rather than queueing behind
    # them all (first come, first served put them last).
    assert max(i for i, name in enumerate(order) if name == small.name) < 6


@engine_db
def test_a_plan_paused_while_another_runs_gives_its_turns_to_the_other(stub_server, settings):
    from conftest import independent_atoms
    from execution.runtime.lifecycle import pause_masterplan

    ConcurrencyLimiter().set_limit(2, "test")
    stub_server.configure(latency_ms=300)
    paused = import_masterplan(independent_atoms(6, "100"))
    going = import_masterplan(independent_atoms(5, "100"))
    for plan in (paused, going):
        start_masterplan(plan.pk)
    paused_at: list[int] = []

    def pause_after_its_first_atom() -> None:
        deadline = time.monotonic() + 30
        while not paused.atoms.filter(status=Atom.Status.COMPLETED).exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        pause_masterplan(paused.pk)
        paused_at.append(going.atoms.filter(status=Atom.Status.COMPLETED).count())
        connection.close()  # this thread's own

    pauser = threading.Thread(target=pause_after_its_first_atom)
    pauser.start()
    drain(ConcurrentWorker)  # the worker's signal handlers need the main thread
    pauser.join()
    assert paused_at and paused_at[0] < 5  # paused while the other still ran
    going.refresh_from_db()
    assert going.status == MasterPlan.Status.COMPLETED
    left = paused.atoms.exclude(status=Atom.Status.COMPLETED)
    assert left.exists() and not left.exclude(status=Atom.Status.PENDING).exists()
    # Its waiting atoms asked the provider nothing once paused, and hold no slot.
    completed = set(
        paused.atoms.filter(status=Atom.Status.COMPLETED).values_list("name", flat=True)
    )
    asked = {name for name in stub_server.stats.calls_by_atom if name.startswith("a")}
    assert asked - completed <= set(going.atoms.values_list("name", flat=True))
    assert ConcurrencyLimiter().in_flight() == 0
