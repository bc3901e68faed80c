"""The atom trace page: an execution's timeline, each LLM call's prompt and answer, the
error fed back on each retry, the cost by token bucket, the atom's L1–L4 checks."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from execution.models import Atom
from tracing.pages.timeline import timeline
from tracing.reading import NoSuchExecution, cost_by_bucket
from tracing.reading import atom_trace as read_trace


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def atom_trace(request: HttpRequest, atom_id: str) -> HttpResponse:
    atom = get_object_or_404(Atom.objects.select_related("masterplan", "wave"), pk=atom_id)
    execution = request.GET.get("execution")
    if execution is not None and not (execution.isascii() and execution.isdigit()):
        raise Http404(f"execution must be a whole number (got {execution!r})")
    try:
        found = read_trace(atom, int(execution) if execution else None)
    except NoSuchExecution as error:
        raise Http404(str(error)) from None
    calls = [event for event in found.events if event.kind == "llm_call"]
    retries = [event for event in found.events if event.kind in ("retry", "provider_retry")]
    return render(
        request,
        "tracing/atom_trace.html",
        {
            "atom": atom,
            "masterplan": atom.masterplan,
            "found": found,
            "timeline": timeline(found.events),
            "calls": calls,
            "retries": retries,
            "buckets": cost_by_bucket(found.trace) if found.trace else None,
        },
    )
