"""The lifecycle: its transition table, and the checks that hold a plan until they decide."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import engine_db
from execution.models import MasterPlan, Wave, WaveCheck
from execution.runtime import checks, lifecycle
from execution.runtime.checks import Check, Verdict
from execution.runtime.lifecycle import (
    TRANSITIONS,
    TransitionRefused,
    resume_masterplan,
    start_masterplan,
)

S = MasterPlan.Status


def run_to_the_end(masterplan: MasterPlan, run_jobs: Callable[[], None]) -> MasterPlan:
    """Start the plan and work every queue until nothing is left to do."""
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    return masterplan


@pytest.fixture
def registered(monkeypatch):
    """Register checks for one test (the acceptance app's stays registered, switched off)."""

    def register(name: str, decide, **options) -> Check:  # type: ignore[no-untyped-def]
        check = Check(name=name, decide=decide, **options)
        monkeypatch.setitem(checks._registry, name, check)
        return check

    return register


@pytest.mark.django_db
@pytest.mark.parametrize("verb", sorted(TRANSITIONS))
def test_every_verb_refuses_the_statuses_its_table_does_not_list(verb, imported):
    masterplan = imported("slugkit")
    allowed, _ = TRANSITIONS[verb]
    for status in set(S.values) - set(allowed):
        MasterPlan.objects.filter(pk=masterplan.pk).update(status=status, status_reason="kept")
        masterplan.refresh_from_db()
        with pytest.raises(TransitionRefused) as refused:
            lifecycle._transition(masterplan, verb)
        assert refused.value.status == status
        assert f"it is {status}" in str(refused.value)
        assert refused.value.allowed_actions == lifecycle.available_actions(status)
        masterplan.refresh_from_db()
        assert (masterplan.status, masterplan.status_reason) == (status, "kept")


def test_the_actions_offered_are_the_user_verbs_the_table_allows():
    assert lifecycle.available_actions(S.READY) == ["start", "cancel"]
    assert lifecycle.available_actions(S.RUNNING) == ["pause", "cancel"]
    assert lifecycle.available_actions(S.PAUSED) == ["resume", "cancel"]
    assert lifecycle.available_actions(S.PAUSED_BUDGET) == ["cancel"]  # the override resumes
    assert lifecycle.available_actions(S.COMPLETED) == []


@engine_db
def test_a_refused_transition_answers_409_with_the_status_and_the_allowed_actions(
    api_client_for, reviewer, imported
):
    masterplan = imported("slugkit")
    response = api_client_for(reviewer).post(
        f"/api/v2/execution/masterplans/{masterplan.pk}/resume"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["status"] == "ready"
    assert body["allowed_actions"] == ["start", "cancel"]
    assert "cannot resume masterplan 'slugkit': it is ready" in body["detail"]


@engine_db
def test_a_registered_check_runs_after_every_wave_and_its_pass_completes_the_plan(
    registered, imported, fast_offline, run_jobs
):
    decided: list[int] = []

    def decide(wave: Wave) -> Verdict:
        decided.append(wave.number)
        return Verdict(True)

    registered("probe", decide)
    masterplan = run_to_the_end(imported("slugkit"), run_jobs)
    assert masterplan.status == S.COMPLETED, masterplan.status_reason
    waves = masterplan.waves.count()
    assert sorted(decided) == list(range(1, waves + 1))
    assert set(WaveCheck.objects.filter(masterplan=masterplan).values_list("state", flat=True)) == {
        "passed"
    }


@engine_db
def test_every_check_decides_before_the_plan_ends_and_a_failure_ends_it_gate_failed(
    registered, imported, fast_offline, run_jobs
):
    registered("first", lambda wave: Verdict(True))
    registered("second", lambda wave: Verdict(False, "second: 2 findings are CRITICAL"))
    masterplan = run_to_the_end(imported("slugkit"), run_jobs)
    assert masterplan.status == S.GATE_FAILED
    assert masterplan.status_reason == "second: 2 findings are CRITICAL"
    assert masterplan.finished_at is not None


@engine_db
def test_a_check_that_raises_holds_the_plan_with_the_cause_and_resume_asks_it_again(
    registered, imported, fast_offline, run_jobs
):
    last_wave: list[int] = []

    def decide(wave: Wave) -> Verdict:
        if wave.number == wave.masterplan.waves.count() and not last_wave:
            last_wave.append(wave.number)
            raise RuntimeError("the scoring service is down")
        return Verdict(True)

    registered("flaky", decide)
    masterplan = run_to_the_end(imported("slugkit"), run_jobs)
    assert masterplan.status == S.RUNNING  # held: no verdict, no end
    assert "RuntimeError: the scoring service is down" in masterplan.status_reason
    assert "Resume the plan to ask it again" in masterplan.status_reason
    resume_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == S.COMPLETED, masterplan.status_reason


@engine_db
def test_a_check_that_gates_each_wave_stops_the_plan_before_the_next_wave(
    registered, imported, fast_offline, run_jobs
):
    registered(
        "strict",
        lambda wave: Verdict(wave.number < 2, f"wave {wave.number} broke the build"),
        gates_each_wave=lambda masterplan: True,
    )
    masterplan = run_to_the_end(imported("inventory-service"), run_jobs)  # three waves
    assert masterplan.status == S.GATE_FAILED
    assert masterplan.status_reason == "wave 2 broke the build"
    assert list(masterplan.waves.values_list("number", "status")) == [
        (1, "completed"),
        (2, "completed"),
        (3, "pending"),
    ]


@engine_db
def test_with_no_check_enabled_a_plan_completes_when_its_atoms_do(imported, fast_offline, run_jobs):
    assert checks.enabled_checks() == []  # the acceptance check is off in these tests
    masterplan = run_to_the_end(imported("slugkit"), run_jobs)
    assert masterplan.status == S.COMPLETED
    assert not WaveCheck.objects.filter(masterplan=masterplan).exists()


@engine_db
def test_a_gating_check_holds_the_next_wave_even_when_the_wave_before_had_failures(
    registered, imported, stub_server, run_jobs
):
    """wave 2's atom that depends on a failed one is blocked before wave 2 starts: that
    must not read as "started" and let it pass the gate."""
    stub_server.configure(failing_atoms={"format_quantity": 400})  # stock_badge's dependency
    registered(
        "strict",
        lambda wave: Verdict(wave.number > 1, f"wave {wave.number} broke the build"),
        gates_each_wave=lambda masterplan: True,
    )
    masterplan = run_to_the_end(imported("inventory-service"), run_jobs)
    assert masterplan.status == S.GATE_FAILED
    assert masterplan.status_reason == "wave 1 broke the build"
    assert masterplan.waves.get(number=2).status == Wave.Status.PENDING
    assert masterplan.atoms.get(name="stock_badge").status == "blocked"


@pytest.mark.django_db
def test_a_run_by_hand_gives_its_verdict_only_to_a_wave_that_closed_before_it_started(
    imported,
):
    from datetime import timedelta

    from django.utils import timezone

    masterplan = imported("inventory-service")
    first, second = masterplan.waves.order_by("number")[:2]
    now = timezone.now()
    Wave.objects.filter(pk=first.pk).update(finished_at=now - timedelta(minutes=5))
    Wave.objects.filter(pk=second.pk).update(finished_at=now)
    for wave in (first, second):
        WaveCheck.objects.create(
            masterplan=masterplan, wave=wave, check_name="acceptance", state="undecided",
            queued_at=now,
        )  # fmt: skip
    started_between = now - timedelta(minutes=1)  # copied the workspace before wave 2 closed
    row = checks.open_row_seen_by(masterplan.pk, "acceptance", started_between)
    assert row is not None and row.wave_id == first.pk
    latest = checks.open_row_seen_by(masterplan.pk, "acceptance", now)
    assert latest is not None and latest.wave_id == second.pk


@engine_db
def test_a_plan_whose_verdict_could_not_move_it_on_is_moved_on_by_the_scheduler(
    registered, imported, fast_offline, run_jobs, monkeypatch
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from execution.runtime import lifecycle as module

    registered("strict", lambda wave: Verdict(True), gates_each_wave=lambda masterplan: True)
    real, calls = module.enqueue_wave, []

    def enqueue_failing_once(wave: Wave) -> list[str]:
        calls.append(wave.number)
        if len(calls) == 2:  # wave 2, queued by wave 1's verdict: Redis goes away then
            raise RedisConnectionError("the queue went away")
        return real(wave)

    monkeypatch.setattr(module, "enqueue_wave", enqueue_failing_once)
    masterplan = run_to_the_end(imported("slugkit"), run_jobs)
    assert masterplan.status == S.RUNNING  # the verdict is recorded, the plan stands still
    assert masterplan.waves.get(number=2).status == Wave.Status.PENDING
    assert lifecycle.advance_stalled_plans() == []  # decided just now: not yet
    WaveCheck.objects.filter(masterplan=masterplan).update(decided_at="2000-01-01T00:00:00Z")
    assert lifecycle.advance_stalled_plans() == [str(masterplan.pk)]
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == S.COMPLETED, masterplan.status_reason


@engine_db
def test_a_check_job_queued_before_its_row_was_asked_again_decides_nothing(
    registered, imported, run_jobs
):
    import django_rq
    from django.utils import timezone

    decided: list[int] = []

    def decide(wave: Wave) -> Verdict:
        decided.append(wave.number)
        return Verdict(True)

    registered("probe", decide)
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=S.RUNNING)
    row = WaveCheck.objects.create(
        masterplan=masterplan, wave=masterplan.waves.first(), check_name="probe",
        job_id="the-newer-job", queued_at=timezone.now(),
    )  # fmt: skip
    django_rq.get_queue("default").enqueue(checks.CHECK_JOB, str(row.pk), job_id="a-superseded-job")
    run_jobs()
    row.refresh_from_db()
    assert row.state == WaveCheck.State.PENDING and decided == []


@engine_db
def test_a_check_that_reads_another_runs_after_it_on_the_same_wave(
    registered, imported, fast_offline, run_jobs
):
    order: list[tuple[str, int]] = []

    def decide_as(name: str) -> Callable[[Wave], Verdict]:
        def decide(wave: Wave) -> Verdict:
            order.append((name, wave.number))
            return Verdict(True)

        return decide

    # Registered first, but it reads "gate": its job waits for gate's verdict.
    registered("score", decide_as("score"), after=("gate", "not-enabled"))
    registered("gate", decide_as("gate"))
    masterplan = run_to_the_end(imported("slugkit"), run_jobs)
    assert masterplan.status == S.COMPLETED, masterplan.status_reason
    for wave in masterplan.waves.all():
        assert order.index(("gate", wave.number)) < order.index(("score", wave.number))
        rows = {row.check_name: row for row in wave.checks.all()}
        decided = rows["gate"].decided_at
        assert decided is not None and rows["score"].queued_at >= decided
