"""From a finished wave to the gate's decision, with the offline provider's tests run in
the real sandbox by a real RQ worker."""

from __future__ import annotations

import django_rq
import pytest
from rq import SimpleWorker

from acceptance.models import AcceptanceTest, TestResult, TestRun
from conftest import engine_db
from execution.models import MasterPlan
from execution.runtime.lifecycle import start_masterplan


def run_the_waves_only(masterplan: MasterPlan, *, lose_the_tests: bool) -> None:
    """Work the `waves` queue until every wave closed; the post-wave jobs stay queued, or
    are lost on their way (`lose_the_tests`)."""
    waves, tests = django_rq.get_queue("waves"), django_rq.get_queue("tests")
    while masterplan.waves.exclude(status__in=["completed", "failed"]).exists():
        if lose_the_tests:
            tests.empty()
        SimpleWorker([waves], connection=waves.connection).work(burst=True)
    if lose_the_tests:
        tests.empty()


@pytest.fixture
def acceptance_after_waves(settings, fast_offline):
    settings.MGE_ACCEPTANCE_AFTER_WAVES = True


@engine_db
def test_a_plan_whose_tests_pass_ends_completed_after_the_gate(
    acceptance_after_waves, imported, run_jobs
):
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    tests = AcceptanceTest.objects.filter(masterplan=masterplan)
    assert tests.count() == masterplan.requirements.count() == 7
    assert set(tests.values_list("generated_by", flat=True)) == {"llm"}
    runs = TestRun.objects.filter(masterplan=masterplan)
    assert runs.count() == masterplan.waves.count()  # one run after each wave
    assert {run.status for run in runs} == {TestRun.Status.FINISHED}
    assert all(run.isolation.startswith("bwrap") for run in runs)
    last = runs.order_by("-created_at").first()
    assert last is not None
    assert set(last.results.values_list("status", flat=True)) == {"passed"}
    assert last.wave == masterplan.waves.order_by("-number").first()


@engine_db
def test_a_failing_must_test_ends_the_plan_gate_failed(
    acceptance_after_waves, imported, run_jobs, monkeypatch
):
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    # The tests are generated after the first wave; break one before the last run.
    from acceptance import generator

    real = generator.generate_test

    def with_a_wrong_expectation(masterplan, requirement, files, **options):
        test = real(masterplan, requirement, files, **options)
        if requirement.position == 0:
            code = "def test_wrong() -> None:\n    assert 'Déjà Vu' == 'deja-vu'\n"
            return generator.GeneratedTest(**{**test.__dict__, "code": code})
        return test

    monkeypatch.setattr(generator, "generate_test", with_a_wrong_expectation)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.GATE_FAILED
    assert masterplan.status_reason == (
        "acceptance gate failed: 1 of 5 MUST tests do not pass. Blocking: R1 (failed); each "
        "test's message is on the acceptance page."
    )
    failed = TestResult.objects.filter(run__masterplan=masterplan, status="failed").first()
    assert failed is not None and "AssertionError" in failed.trace + failed.message


@engine_db
def test_per_wave_gates_count_only_requirements_whose_code_is_written(
    acceptance_after_waves, example_text, run_jobs
):
    """slugkit's tests import the package, whose __init__ comes last: no requirement is due
    before the last wave, so enforcing the gate per wave does not stop the plan early."""
    from execution.actions import import_masterplan

    text = example_text("slugkit").replace(
        "enforce_gate_per_wave: false", "enforce_gate_per_wave: true"
    )
    masterplan = import_masterplan(text)
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    assert TestRun.objects.filter(masterplan=masterplan).count() == masterplan.waves.count()


@engine_db
def test_typescript_plans_get_vitest_tests_run_in_the_sandbox(
    acceptance_after_waves, imported, run_jobs
):
    masterplan = imported("typed-event-bus")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    assert set(
        AcceptanceTest.objects.filter(masterplan=masterplan).values_list("framework", flat=True)
    ) == {"vitest"}
    last = TestRun.objects.filter(masterplan=masterplan).order_by("-created_at").first()
    assert last is not None
    assert last.results.count() == 6
    assert set(last.results.values_list("status", flat=True)) == {"passed"}


@engine_db
def test_a_real_defect_in_generated_code_blocks_the_release(
    acceptance_after_waves, imported, run_jobs, client, viewer
):
    """inventory-service's canned code records a refused withdrawal of an unknown SKU (its
    defaultdict grows on a read): R1's test catches it, in a plan with pytest and Vitest,
    and the per-wave gate stops the plan."""
    masterplan = imported("inventory-service")  # enforce_gate_per_wave: true
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.GATE_FAILED
    assert masterplan.status_reason == (
        "acceptance gate failed: 1 of 4 MUST tests do not pass. Blocking: R1 (failed); each "
        "test's message is on the acceptance page."
    )
    # After wave 1 the code of R1 was not written yet (not due); after wave 2 it failed,
    # and wave 3 never started.
    assert list(masterplan.waves.values_list("number", "status")) == [
        (1, "completed"),
        (2, "completed"),
        (3, "pending"),
    ]
    runs = TestRun.objects.filter(masterplan=masterplan).order_by("created_at")
    run_waves = []
    for run in runs:
        assert run.wave is not None
        run_waves.append(run.wave.number)
    assert run_waves == [1, 2]
    last = runs.last()
    assert last is not None
    frameworks = set(last.results.values_list("test__framework", flat=True))
    assert frameworks == {"pytest", "vitest"}
    failed = last.results.get(status="failed")
    assert failed.test.requirement.position == 0
    assert "ghost" in failed.message + failed.trace
    client.force_login(viewer)
    page = client.get(f"/masterplans/{masterplan.pk}/").content.decode()
    unstarted = masterplan.atoms.filter(wave__number=3).count()
    assert page.count("not run: the plan ended (gate failed) before its wave") == unstarted > 0


@engine_db
def test_a_refused_run_holds_the_plan_with_the_cause_and_a_run_by_hand_decides(
    acceptance_after_waves, imported, run_jobs, settings, api_client_for, reviewer
):
    settings.MGE_SANDBOX = "none"  # refused: DEBUG is off
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.RUNNING  # no verdict without results
    assert masterplan.status_reason.startswith("The acceptance run refused: ")
    assert "press Run tests" in masterplan.status_reason
    assert not TestRun.objects.filter(masterplan=masterplan, status="finished").exists()

    settings.MGE_SANDBOX = "auto"  # the cause fixed
    wave = masterplan.waves.order_by("-number").first()
    response = api_client_for(reviewer).post(f"/api/v2/testing/run/{wave.pk}")
    assert response.status_code == 202
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason


@engine_db
def test_only_a_run_that_saw_every_atoms_code_decides_how_the_plan_ends(
    acceptance_after_waves, imported, run_jobs
):
    from acceptance.pipeline import decide_after_run

    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()  # completed, with its tests
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.RUNNING)
    stale = TestRun.objects.create(
        masterplan=masterplan, status="finished", code_complete=False, written_files=[]
    )
    for test in AcceptanceTest.objects.filter(masterplan=masterplan):
        TestResult.objects.create(run=stale, test=test, status="failed", message="no code yet")
    # Started before the others (it copied the workspace earlier) but finished last.
    earliest = TestRun.objects.order_by("started_at").first()
    assert earliest is not None
    TestRun.objects.filter(pk=stale.pk).update(started_at=earliest.started_at)
    stale.refresh_from_db()
    outcome = decide_after_run(stale)
    assert outcome["decision"] == "none: a run that saw every atom's code decides"
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.RUNNING
    from acceptance.gate import gate_status

    assert gate_status(masterplan.pk).gate_passed  # the newer run's results still count


@engine_db
def test_a_held_plan_whose_post_wave_job_was_lost_gets_it_again(
    acceptance_after_waves, imported, run_jobs
):
    from execution.models import WaveCheck
    from execution.runtime.lifecycle import requeue_lost_checks

    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_the_waves_only(masterplan, lose_the_tests=True)
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.RUNNING  # held for a gate that never came
    assert requeue_lost_checks() == []  # the last wave closed just now: not yet
    WaveCheck.objects.filter(masterplan=masterplan).update(queued_at="2000-01-01T00:00:00Z")
    assert requeue_lost_checks() == [str(masterplan.pk)]
    assert requeue_lost_checks() == []  # queued once: pending now
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED


@engine_db
def test_resuming_a_plan_paused_while_held_for_the_gate_lets_the_gate_decide(
    acceptance_after_waves, imported, run_jobs
):
    from execution.runtime.lifecycle import pause_masterplan, resume_masterplan

    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_the_waves_only(masterplan, lose_the_tests=False)
    pause_masterplan(masterplan.pk)  # held for the gate, then paused
    run_jobs()  # the post-wave jobs find the plan paused: no decision
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.PAUSED
    resume_masterplan(masterplan.pk)
    assert django_rq.get_queue("tests").count >= 1  # the gate is asked again
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
