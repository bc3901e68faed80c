"""HTMX pages: the masterplan list, a masterplan's detail, and the upload form."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from execution.actions import MasterPlanBusyError, delete_masterplan, import_with_notices
from execution.dependencies.atom_graph import atom_graph
from execution.document.export import export_masterplan
from execution.document.format import MasterPlanFormatError
from execution.models import Atom, MasterPlan, Milestone, Phase, Task
from execution.pages import freshness
from execution.pages.atoms_table import atoms_page, page_links
from execution.pages.charts import time_chart
from execution.pages.forms import MasterPlanUploadForm
from execution.runtime import jobs, lifecycle
from execution.runtime.concurrency import HISTORY_SECONDS, ConcurrencyLimiter, budget_remaining_pct
from execution.runtime.workspace import WorkspacePathError, resolve_in_workspace, workspace_files
from mge_site.http import HtmxHttpRequest, SignedInHtmxHttpRequest


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def masterplan_list(request: HtmxHttpRequest) -> HttpResponse:
    masterplans = list(MasterPlan.objects.with_progress())
    context = {
        "masterplans": masterplans,
        "any_active": any(masterplan.is_active for masterplan in masterplans),
    }
    if request.htmx:
        return render(request, "execution/_list_live.html", context)
    return render(request, "execution/masterplan_list.html", context)


# The parts of a masterplan's page that HTMX asks for alone (HX-Target), and their templates.
LIVE_PARTS = {"live": "execution/_live.html", "atoms": "execution/_atoms_table.html"}


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def masterplan_detail(request: HtmxHttpRequest, masterplan_id: UUID) -> HttpResponse:
    live = request.htmx.target if request.htmx and request.htmx.target in LIVE_PARTS else None
    if live:
        return freshness.answer(
            request, masterplan_id,
            lambda: render(request, LIVE_PARTS[live], _detail_context(request, masterplan_id)),
        )  # fmt: skip
    context = _detail_context(request, masterplan_id)
    masterplan = context["masterplan"]
    phases = Phase.objects.filter(masterplan=masterplan).prefetch_related(
        Prefetch(
            "milestones",
            Milestone.objects.prefetch_related(
                Prefetch("tasks", Task.objects.prefetch_related("atoms"))
            ),
        )
    )
    context |= {
        "phases": phases,
        "requirements": masterplan.requirements.all(),
    }
    return render(request, "execution/masterplan_detail.html", context)


def _detail_context(request: HtmxHttpRequest, masterplan_id: UUID) -> dict[str, Any]:
    masterplan = get_object_or_404(MasterPlan.objects.with_progress(), pk=masterplan_id)
    atoms, status_filter = atoms_page(masterplan, request.GET)
    return {
        "masterplan": masterplan,
        "atoms": atoms,
        "status_filter": status_filter,
        "pages": page_links(status_filter, atoms),
        "waves": masterplan.waves.all(),
        "status_counts": Counter(masterplan.atoms.values_list("status", flat=True)),
        "placeholders": masterplan.atom_placeholders,  # type: ignore[attr-defined]
        "plan_ended": masterplan.status in lifecycle.ENDED,
        "atom_statuses": Atom.Status.values,
        "available_actions": lifecycle.available_actions(masterplan.status),
        "workspace_files": workspace_files(Path(masterplan.workspace_path)),
    }


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def dependency_graph(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    return render(
        request, "execution/dependency_graph.html",
        {"masterplan": masterplan, "graph": atom_graph(masterplan)},
    )  # fmt: skip


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def masterplan_document(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    response = HttpResponse(
        export_masterplan(masterplan), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="masterplan-{masterplan.pk}.md"'
    return response


@login_required
@permission_required("execution.add_masterplan", raise_exception=True)
@require_http_methods(["GET", "POST"])
def masterplan_upload(request: SignedInHtmxHttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = MasterPlanUploadForm(request.POST, request.FILES) if posted else MasterPlanUploadForm()
    problems: list[str] = []
    if posted and form.is_valid():
        try:
            imported = import_with_notices(form.cleaned_data["document"], created_by=request.user)
        except MasterPlanFormatError as error:
            problems = [str(problem) for problem in error.problems]
        else:
            masterplan = imported.masterplan
            messages.success(request, f"Imported masterplan {masterplan.name!r}.")
            for notice in imported.notices:
                messages.warning(request, notice)
            url = reverse("execution:masterplan-detail", args=[masterplan.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    template = "execution/_upload_form.html" if request.htmx else "execution/masterplan_upload.html"
    status = 422 if posted else 200
    return render(request, template, {"form": form, "problems": problems}, status=status)


@login_required
@permission_required("execution.delete_masterplan", raise_exception=True)
@require_POST
def masterplan_delete(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    try:
        delete_masterplan(masterplan.pk)
    except MasterPlanBusyError as error:
        messages.error(request, str(error))
        return redirect("execution:masterplan-detail", masterplan_id=masterplan.pk)
    messages.success(request, f"Deleted masterplan {masterplan.name!r}.")
    return redirect("execution:masterplan-list")


@login_required
@permission_required("execution.run_masterplan", raise_exception=True)
@require_POST
def masterplan_control(request: HtmxHttpRequest, masterplan_id: str, action: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    if action not in lifecycle.ACTIONS:
        raise Http404(f"no action {action!r}")
    try:
        lifecycle.ACTIONS[action](masterplan.pk)
    except (lifecycle.TransitionRefused, jobs.QueueUnavailable, jobs.Backpressure) as refused:
        messages.error(request, str(refused))
    url = reverse("execution:masterplan-detail", args=[masterplan.pk])
    # The page reloads with the new status; while running, its live region polls.
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def workspace_file(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    path = request.GET.get("path", "")
    try:
        target = resolve_in_workspace(Path(masterplan.workspace_path), path)
    except WorkspacePathError as error:
        return HttpResponseBadRequest(f"{error}")
    if not target.is_file():
        raise Http404(f"no file {path!r} in this workspace")
    context = {
        "masterplan": masterplan,
        "path": path,
        "lines": target.read_text(encoding="utf-8", errors="replace").splitlines(),
        "atom": masterplan.atoms.filter(file_path=path).first(),
    }
    return render(request, "execution/workspace_file.html", context)


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def concurrency_dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """The shared limit and the load over the last hour, and what moved the limit."""
    limiter = ConcurrencyLimiter()
    stats = limiter.stats()
    stats["budget_remaining_pct"] = budget_remaining_pct()
    for entry in stats["adjustments"]:
        entry["at"] = datetime.fromisoformat(entry["at"])
    history = limiter.history()
    now = time.time()
    chart = time_chart(
        {
            "limit": [(point["t"], point["limit"]) for point in history],
            "peak": [(point["t"], point["peak"]) for point in history],
            "in_flight": [(point["t"], point["in_flight"]) for point in history],
        },
        start=now - HISTORY_SECONDS,
        end=now,
        step_lines=frozenset({"limit"}),
    )
    context = {
        "stats": stats,
        "chart": chart,
        "samples": len(history),
        "sample_seconds": settings.MGE_CONCURRENCY_SAMPLE_SECONDS,
    }
    template = "execution/_concurrency_live.html" if request.htmx else "execution/concurrency.html"
    return render(request, template, context)
