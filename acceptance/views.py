"""The acceptance page of a masterplan: requirements, their tests, results and the gate."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from acceptance.gate import gate_status
from acceptance.jobs import enqueue
from acceptance.models import Requirement, TestRun
from acceptance.runs import active_run, latest_results, request_run, run_summaries
from execution.jobs import QueueUnavailable
from execution.models import Atom, MasterPlan, Wave

ACTIVE_RUNS = [TestRun.Status.QUEUED, TestRun.Status.RUNNING]


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def masterplan_acceptance(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    requirements = (
        Requirement.objects.filter(masterplan=masterplan)
        .select_related("acceptance_test")
        .order_by("position")
    )
    latest = latest_results(masterplan)
    rows = []
    for requirement in requirements:
        test = getattr(requirement, "acceptance_test", None)
        rows.append(
            {"requirement": requirement, "test": test,
             "result": latest.get(test.pk) if test else None}
        )  # fmt: skip
    runs = list(masterplan.test_runs.select_related("wave")[:10])
    summaries = run_summaries(runs)
    context = {
        "masterplan": masterplan,
        "rows": rows,
        "gate": gate_status(masterplan.pk),
        "runs": [(run, summaries[run.pk]) for run in runs],
        "active": any(run.status in ACTIVE_RUNS for run in runs),
    }
    if request.htmx:
        return render(request, "acceptance/_acceptance_live.html", context)
    return render(request, "acceptance/masterplan_acceptance.html", context)


@login_required
@permission_required("execution.run_acceptance_tests", raise_exception=True)
@require_POST
def generate(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    if not masterplan.requirements.exists():
        messages.error(request, "This masterplan has no requirements to write tests for.")
    elif not masterplan.atoms.filter(status=Atom.Status.COMPLETED).exists():
        messages.error(request, "No code has been generated yet: start the masterplan first.")
    elif active_run(masterplan):
        messages.error(request, "A test run is queued or running: regenerate once it ends.")
    else:
        try:
            enqueue("acceptance.tasks.generate", str(masterplan.pk))
            messages.success(
                request, "Test generation queued: this page shows the tests once written."
            )
        except QueueUnavailable as unavailable:
            messages.error(request, f"{unavailable}; try again shortly.")
    return redirect("acceptance:masterplan-acceptance", masterplan.pk)


@login_required
@permission_required("execution.run_acceptance_tests", raise_exception=True)
@require_POST
def run(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    if not masterplan.acceptance_tests.exists():
        messages.error(request, "Generate the tests first.")
    elif active_run(masterplan):
        messages.error(request, "A test run of this masterplan is already queued or running.")
    else:
        wave = (
            masterplan.waves.filter(status__in=[Wave.Status.COMPLETED, Wave.Status.FAILED])
            .order_by("-number")
            .first()
        )
        try:
            request_run(masterplan, wave)
            messages.success(request, "Test run queued: the results appear here as it ends.")
        except QueueUnavailable as unavailable:
            messages.error(request, f"{unavailable}; try again shortly.")
    return redirect("acceptance:masterplan-acceptance", masterplan.pk)
