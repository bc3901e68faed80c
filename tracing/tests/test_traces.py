"""A trace per atom execution, written by the engine's real run: complete, ordered, and
consistent with the ledger and with what the provider reported."""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal

from django.db import DatabaseError
from django.db.models import Sum

from budget.models import CostEntry
from conftest import engine_db, independent_atoms
from execution.actions import import_masterplan
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan
from execution.tasks import release_stale_atoms
from tracing import service
from tracing.models import AtomExecutionTrace, TraceEvent


def kinds(trace: AtomExecutionTrace) -> list[str]:
    return list(trace.events.order_by("seq").values_list("kind", flat=True))


@engine_db
def test_every_atom_has_a_trace_whose_events_are_complete_and_agree_with_the_ledger(
    imported, stub_server, run_jobs
):
    stub_server.configure(scheduled_statuses=[429])
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    atoms = list(masterplan.atoms.all())
    traces = AtomExecutionTrace.objects.filter(masterplan=masterplan)
    assert traces.count() == len(atoms)
    for atom in atoms:
        trace = traces.get(atom=atom)
        assert trace.execution == 1 and trace.status == AtomExecutionTrace.Status.COMPLETED
        order = kinds(trace)
        assert order[:4] == ["queued", "ramp_up_turn", "slot_acquired", "started"]
        assert order[-2:] == ["file_written", "completed"]
        for step in ("context_built", "cache_miss", "budget_reserved", "budget_settled",
                     "llm_call", "validation"):  # fmt: skip
            assert step in order, (atom.name, step, order)
        events = list(trace.events.order_by("seq"))
        assert [event.seq for event in events] == list(range(1, len(events) + 1))
        offsets = [event.offset_ms for event in events]
        assert offsets == sorted(offsets)
        # What the provider reported, what the ledger charged: the same figures.
        ledger = CostEntry.objects.filter(atom=atom).aggregate(
            cost=Sum("cost_usd"), input=Sum("input_tokens"), output=Sum("output_tokens")
        )
        assert trace.cost_usd == ledger["cost"] == atom.cost_usd > 0
        assert trace.input_tokens == ledger["input"] == atom.input_tokens
        assert trace.output_tokens == ledger["output"] == atom.output_tokens
        call = trace.events.get(kind="llm_call")
        assert call.data["request_id"].startswith("req_")
        assert call.data["prompt"] and call.data["response"]
        assert call.duration_ms is not None and call.duration_ms > 0
        assert trace.context_completeness_score == 1.0
        assert trace.finished_at is not None and trace.finished_at > trace.started_at
    # The stub's 429 was asked again by the SDK: one call, not a retry of ours.
    assert sum(trace.total_retries for trace in traces) == 0


@engine_db
def test_bad_answers_show_each_retry_its_reason_and_the_error_fed_back(
    imported, stub_server, run_jobs
):
    stub_server.configure(
        atom_texts={
            "fold_accents": [
                "Sure! Here is how I would do it, in prose only.",
                "```python\ndef fold_accents(text:\n    return text\n```",
            ]
        }
    )
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    fold = Atom.objects.get(masterplan=masterplan, name="fold_accents")
    trace = AtomExecutionTrace.objects.get(atom=fold)
    assert fold.attempts == 3 and trace.total_retries == 2 and trace.llm_calls == 3
    retries = list(trace.events.filter(kind="retry").order_by("seq"))
    assert [retry.data["reason"] for retry in retries] == ["unparsable answer", "validation"]
    assert "does not parse" in retries[1].data["error"]
    validations = trace.events.filter(kind="validation").order_by("seq")
    assert [event.data["passed"] for event in validations] == [False, True]
    last_call = trace.events.filter(kind="llm_call").order_by("seq").last()
    assert last_call is not None
    assert "attempt 2: slugkit/folding.py does not parse: line 1" in last_call.data["prompt"]


@engine_db
def test_a_failing_trace_write_does_not_fail_the_atom(
    imported, fast_offline, run_jobs, monkeypatch
):
    def broken(*args: object) -> None:
        raise DatabaseError("the trace table is gone")

    monkeypatch.setattr(service, "_write", broken)
    monkeypatch.setattr(service, "_write_ended", broken)
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert not AtomExecutionTrace.objects.exists()
    # Each atom's write failed and was counted.
    assert service.errors_counted() == masterplan.atoms.count()


@engine_db
def test_tracing_off_writes_nothing(imported, fast_offline, run_jobs, settings):
    settings.MGE_TRACING = False
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert not AtomExecutionTrace.objects.exists()


@engine_db
def test_an_acceptance_tests_generation_is_traced_per_requirement(imported, stub_server, run_jobs):
    from acceptance.generator import generate_tests
    from acceptance.models import AcceptanceTest

    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    requirements = list(masterplan.requirements.all())
    stub_server.configure(atom_texts={"": ["No code here."]})  # the first one retries once
    generate_tests(masterplan.pk)

    traces = AtomExecutionTrace.objects.filter(scope="requirement", masterplan=masterplan)
    assert {trace.requirement_id for trace in traces} == {r.pk for r in requirements}
    for trace in traces:
        test = AcceptanceTest.objects.get(requirement=trace.requirement)
        expected = "completed" if test.generated_by == "llm" else "requires_review"
        assert trace.status == expected
        assert trace.llm_calls == test.attempts
        assert kinds(trace)[0] == "started" and kinds(trace)[-1] == expected
    assert sum(trace.total_retries for trace in traces) == 1
    ledger = CostEntry.objects.filter(masterplan=masterplan, purpose="test-generation")
    assert (
        sum(trace.cost_usd for trace in traces) == ledger.aggregate(total=Sum("cost_usd"))["total"]
    )


@engine_db
def test_a_killed_workers_atom_shows_both_executions(stub_server, spawn_worker, settings, run_jobs):
    settings.MGE_ATOM_LEASE_SECONDS = 2
    masterplan = import_masterplan(independent_atoms(4, hard_cap="5"))
    start_masterplan(masterplan.pk)
    stub_server.configure(latency_ms=3000)
    worker = spawn_worker(MGE_RAMP_UP_MIN_ATOMS="1000", MGE_ATOM_LEASE_SECONDS="2")
    deadline = time.monotonic() + 60
    while stub_server.stats.in_flight < 4:
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.02)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    time.sleep(settings.MGE_ATOM_LEASE_SECONDS + 0.3)
    assert release_stale_atoms() == [str(masterplan.pk)]
    stub_server.configure(latency_ms=0)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    for atom in masterplan.atoms.all():
        first, second = atom.traces.order_by("execution")
        assert (first.execution, first.status) == (1, AtomExecutionTrace.Status.ABANDONED)
        assert "its worker stopped" in first.error
        # The sweep writes it: the dead worker wrote nothing. It cost the budget's estimate.
        assert kinds(first) == ["abandoned"]
        assert first.started_at == atom.traces.get(execution=1).started_at
        estimate = CostEntry.objects.get(atom=atom, kind=CostEntry.Kind.ESTIMATED)
        assert first.cost_usd == estimate.cost_usd > 0
        assert (second.execution, second.status) == (2, AtomExecutionTrace.Status.COMPLETED)
        settled = CostEntry.objects.get(atom=atom, kind=CostEntry.Kind.SETTLED)
        assert second.cost_usd == settled.cost_usd
        assert first.cost_usd + second.cost_usd == CostEntry.objects.filter(atom=atom).total()


@engine_db
def test_a_rerun_answered_from_the_cache_is_traced_as_hits_agreeing_with_the_cache_stats(
    imported, stub_server, run_jobs
):
    from caching.counters import stats

    first = imported("slugkit")
    start_masterplan(first.pk)
    run_jobs()
    second = imported("slugkit")
    start_masterplan(second.pk)
    run_jobs()

    traces = AtomExecutionTrace.objects.filter(masterplan=second)
    figures = stats("llm_response", str(second.pk))
    assert sum(trace.cache_hits for trace in traces) == figures["hits"] == second.atoms.count()
    assert sum(trace.cost_usd for trace in traces) == 0
    saved = CostEntry.objects.filter(masterplan=second).aggregate(saved=Sum("saved_usd"))["saved"]
    assert sum(trace.cost_saved_usd for trace in traces) == saved == Decimal(figures["saved_usd"])
    for trace in traces:
        order = kinds(trace)
        assert "cache_hit" in order and "budget_reserved" not in order
        assert order.count("slot_acquired") == 1  # the admission only: no call took a slot
        assert trace.input_tokens == 0 and trace.llm_calls == 1


@engine_db
def test_a_lanes_ended_executions_are_written_together(imported, monkeypatch):
    from execution import events
    from execution.runtime.db_lane import DatabaseLane

    monkeypatch.setattr(service._Batches, "BATCH_SIZE", 3)
    masterplan = imported("slugkit")
    atoms = list(masterplan.atoms.order_by("source_line"))[:5]
    with DatabaseLane(1) as db:
        for atom in atoms:
            scope = events.Scope("atom", str(masterplan.pk), str(atom.pk), str(atom.wave_id))
            with events.observed(scope, db.run):
                events.emit("started", attempt=1)
                events.finish("completed")
        assert AtomExecutionTrace.objects.count() == 3  # one full batch, two waiting
        # Another job's end, or the job's own after its lane closed, writes none of them:
        # this lane may be closing by then.
        with DatabaseLane(1) as other:
            events.flush(other.run)
        events.flush()
        assert AtomExecutionTrace.objects.count() == 3
        events.flush(db.run)
    assert AtomExecutionTrace.objects.count() == 5
    assert TraceEvent.objects.count() == 10
    # A second execution of one of them is numbered after the first.
    with DatabaseLane(1) as db:
        scope = events.Scope("atom", str(masterplan.pk), str(atoms[0].pk), str(atoms[0].wave_id))
        with events.observed(scope, db.run):
            events.emit("started", attempt=2)
            events.finish("failed", error="again")
        # One that never started (its atom claimed elsewhere, a failed wait) is no execution.
        with events.observed(scope, db.run):
            events.emit("queued", shard=0, position=0)
        events.flush(db.run)
    assert list(atoms[0].traces.order_by("execution").values_list("execution", "status")) == [
        (1, "completed"), (2, "failed")
    ]  # fmt: skip
