"""The acceptance page of a masterplan: requirements, their tests, results and the gate."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from acceptance.gate import gate_status
from acceptance.models import AcceptanceTest, Requirement, TestRun
from acceptance.review import NotReviewable, mark_reviewed
from acceptance.runs import NotNow, latest_results, request_generation, request_run, run_summaries
from execution.models import MasterPlan
from execution.pages import freshness
from execution.runtime.jobs import QueueUnavailable
from mge_site.http import HtmxHttpRequest, SignedInHtmxHttpRequest

ACTIVE_RUNS = [TestRun.Status.QUEUED, TestRun.Status.RUNNING]


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def masterplan_acceptance(request: HtmxHttpRequest, masterplan_id: UUID) -> HttpResponse:
    if request.htmx:  # the live region's poll, while tests run
        return freshness.answer(
            request, masterplan_id,
            lambda: render(request, "acceptance/_acceptance_live.html", _context(masterplan_id)),
        )  # fmt: skip
    return render(request, "acceptance/masterplan_acceptance.html", _context(masterplan_id))


def _context(masterplan_id: UUID) -> dict[str, Any]:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    requirements = (
        Requirement.objects.filter(masterplan=masterplan)
        .select_related("acceptance_test__reviewed_by")
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
    return {
        "masterplan": masterplan,
        "rows": rows,
        "gate": gate_status(masterplan.pk),
        "runs": [(run, summaries[run.pk]) for run in runs],
        "active": any(run.status in ACTIVE_RUNS for run in runs),
    }


@login_required
@permission_required("execution.run_acceptance_tests", raise_exception=True)
@require_POST
def generate(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    try:
        request_generation(masterplan)
    except (NotNow, QueueUnavailable) as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Test generation queued: this page shows the tests once written.")
    return redirect("acceptance:masterplan-acceptance", masterplan.pk)


@login_required
@permission_required("execution.run_acceptance_tests", raise_exception=True)
@require_POST
def run(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    try:
        request_run(masterplan)
    except (NotNow, QueueUnavailable) as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Test run queued: the results appear here as it ends.")
    return redirect("acceptance:masterplan-acceptance", masterplan.pk)


@login_required
@permission_required("execution.run_acceptance_tests", raise_exception=True)
@require_POST
def review(request: SignedInHtmxHttpRequest, masterplan_id: str, test_id: str) -> HttpResponse:
    test = get_object_or_404(AcceptanceTest, pk=test_id, masterplan_id=masterplan_id)
    try:
        mark_reviewed(str(test.pk), request.user)
    except NotReviewable as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{test.file_path} marked reviewed: its result now counts.")
    return redirect("acceptance:masterplan-acceptance", masterplan_id)
