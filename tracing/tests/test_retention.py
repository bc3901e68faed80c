"""Old traces go: `mge traces prune --older-than …` and the scheduler's hourly job."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from execution.models import MasterPlan
from tracing.models import AtomExecutionTrace, TraceEvent
from tracing.tasks import prune_old_traces


def traced(masterplan: MasterPlan, days_ago: int, events: int = 3) -> AtomExecutionTrace:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    atom = masterplan.atoms.order_by("source_line")[days_ago % masterplan.atoms.count()]
    trace = AtomExecutionTrace.objects.create(
        masterplan=masterplan, atom=atom, execution=atom.traces.count() + 1, started_at=started
    )
    TraceEvent.objects.bulk_create(
        TraceEvent(trace=trace, seq=n, kind="queued", at=started, offset_ms=n)
        for n in range(1, events + 1)
    )
    return trace


@pytest.mark.django_db
def test_prune_deletes_only_traces_older_than_asked_with_their_events(imported):
    masterplan = imported("slugkit")
    old, older, recent = traced(masterplan, 31), traced(masterplan, 40), traced(masterplan, 2)
    out = StringIO()
    call_command("mge", "traces", "prune", "--older-than", "30d", "--dry-run", stdout=out)
    assert "2 traces started more than 30 days, 0:00:00 ago would go" in out.getvalue()
    assert AtomExecutionTrace.objects.count() == 3

    call_command("mge", "traces", "prune", "--older-than", "30d", stdout=out)
    assert "2 traces started more than 30 days, 0:00:00 ago deleted" in out.getvalue()
    assert list(AtomExecutionTrace.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not TraceEvent.objects.filter(trace_id__in=[old.pk, older.pk]).exists()
    assert TraceEvent.objects.filter(trace=recent).count() == 3


@pytest.mark.django_db
def test_the_scheduler_job_keeps_the_configured_days(imported, settings):
    masterplan = imported("slugkit")
    traced(masterplan, 8)
    traced(masterplan, 3)
    settings.MGE_TRACE_RETENTION_DAYS = 7
    assert prune_old_traces() == 1
    assert AtomExecutionTrace.objects.count() == 1


def test_a_bad_age_is_refused_with_what_to_write():
    with pytest.raises(CommandError, match="'30 days' is not an age like 7d or 36h"):
        call_command("mge", "traces", "prune", "--older-than", "30 days")
