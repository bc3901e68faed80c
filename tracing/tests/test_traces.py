"""A trace per atom execution, written by the engine's real run: complete, ordered, and
consistent with the ledger and with what the provider reported."""

from __future__ import annotations

from django.db import DatabaseError
from django.db.models import Sum

from budget.models import CostEntry
from conftest import engine_db
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan
from tracing import service
from tracing.models import AtomExecutionTrace


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
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert not AtomExecutionTrace.objects.exists()
    # Each atom's writes failed (at its start and at its end) and were counted.
    assert service.errors_counted() == 2 * masterplan.atoms.count()


@engine_db
def test_tracing_off_writes_nothing(imported, fast_offline, run_jobs, settings):
    settings.MGE_TRACING = False
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert not AtomExecutionTrace.objects.exists()
