"""A wave is admitted in steps (thundering-herd guard), on real threads and a real run."""

from __future__ import annotations

import threading
import time
from collections import Counter

from conftest import engine_db
from execution.actions import import_masterplan
from execution.models import MasterPlan
from execution.runtime.lifecycle import start_masterplan
from execution.runtime.ramp_up import RampUp


def admission_times(ramp_up: RampUp, count: int, finish: threading.Event) -> list[float]:
    """Start `count` atoms on threads; each stays running until `finish` is set."""
    started = time.monotonic()
    times = [0.0] * count

    def atom(index: int) -> None:
        ramp_up.wait_turn(index)
        times[index] = time.monotonic() - started
        finish.wait(10)
        ramp_up.done()

    threads = [threading.Thread(target=atom, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while not all(times) and time.monotonic() < deadline:
        time.sleep(0.01)
    finish.set()
    for thread in threads:
        thread.join(10)
    return times


def test_a_wave_is_admitted_ten_percent_then_a_step_every_interval():
    ramp_up = RampUp(50, initial_pct=10, step_pct=20, interval_s=0.3, minimum=1, jitter_s=0.0)
    times = admission_times(ramp_up, 50, threading.Event())
    steps = Counter(round(t / 0.3) for t in times)
    assert [steps[step] for step in range(6)] == [5, 10, 10, 10, 10, 5]
    assert ramp_up.steps_opened == 6


def test_jitter_spreads_the_starts_of_a_step():
    ramp_up = RampUp(20, initial_pct=50, step_pct=50, interval_s=5, minimum=1, jitter_s=0.2)
    finish = threading.Event()
    started = time.monotonic()
    times: list[float] = []
    lock = threading.Lock()

    def atom(index: int) -> None:
        ramp_up.wait_turn(index)
        with lock:
            times.append(time.monotonic() - started)
        finish.wait(10)

    threads = [threading.Thread(target=atom, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while len(times) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    finish.set()
    for thread in threads:
        thread.join(10)
    assert len(times) == 10 and max(times) <= 0.5
    assert max(times) - min(times) > 0.02  # not one burst


def test_a_drained_step_opens_the_next_without_waiting_out_the_interval():
    ramp_up = RampUp(40, initial_pct=10, step_pct=10, interval_s=30, minimum=1, jitter_s=0.0)
    started = time.monotonic()

    def atom(index: int) -> None:
        ramp_up.wait_turn(index)
        time.sleep(0.01)
        ramp_up.done()

    threads = [threading.Thread(target=atom, args=(index,)) for index in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert time.monotonic() - started < 5  # none waited 30 s
    assert ramp_up.steps_opened == 4  # 4 atoms, then 8, 16 more, then the last 12


def test_small_waves_start_whole_and_without_jitter():
    ramp_up = RampUp(8, initial_pct=10, step_pct=10, interval_s=30, minimum=10, jitter_s=5)
    started = time.monotonic()
    for index in range(8):
        ramp_up.wait_turn(index)
    assert time.monotonic() - started < 0.5
    assert not ramp_up.ramped


def one_wave_masterplan(atoms: int) -> str:
    listed = "\n".join(
        f"              - name: a{index}\n"
        f"                file: gen/a{index}.py\n"
        f"                spec: Define a{index}()."
        for index in range(atoms)
    )
    return (
        "---\nname: ramp-up\nlanguage: python\n---\n\n## Plan\n\n"
        "```yaml\nphases:\n  - name: P\n    milestones:\n      - name: M\n        tasks:\n"
        "          - name: T\n            atoms:\n" + listed + "\n```\n"
    )


@engine_db
def test_a_wave_job_admits_its_atoms_in_the_configured_steps(settings, stub_server, run_jobs):
    settings.MGE_RAMP_UP_INITIAL_PCT = 20
    settings.MGE_RAMP_UP_STEP_PCT = 20
    settings.MGE_RAMP_UP_INTERVAL_MS = 400
    settings.MGE_RAMP_UP_JITTER_MS = 0
    settings.MGE_RAMP_UP_MIN_ATOMS = 1
    stub_server.configure(latency_ms=1500)  # longer than the run: no step drains early
    masterplan = import_masterplan(one_wave_masterplan(20))
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    starts = sorted(
        start for start in masterplan.atoms.values_list("started_at", flat=True) if start
    )
    assert len(starts) == 20  # every atom started
    offsets = [(start - starts[0]).total_seconds() for start in starts]
    steps = Counter(round(offset / 0.4) for offset in offsets)
    assert [steps[step] for step in range(5)] == [4, 4, 4, 4, 4]
