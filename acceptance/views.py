"""The acceptance page of a masterplan: requirements, their tests, results and the gate."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from redis.exceptions import RedisError

from acceptance.gate import gate_status
from acceptance.jobs import enqueue
from acceptance.models import AcceptanceTest, Requirement, TestResult, TestRun
from acceptance.runs import active_run, queue_run, run_summary
from execution.models import Atom, MasterPlan, Wave

ACTIVE_RUNS = [TestRun.Status.QUEUED, TestRun.Status.RUNNING]


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def masterplan_acceptance(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    newest = TestResult.objects.filter(test=OuterRef("pk")).order_by("-created_at")
    tests = AcceptanceTest.objects.annotate(latest_result_id=Subquery(newest.values("pk")[:1]))
    requirements = list(
        Requirement.objects.filter(masterplan=masterplan)
        .prefetch_related(Prefetch("acceptance_test", tests))
        .order_by("position")
    )
    latest_ids = [
        r.acceptance_test.latest_result_id
        for r in requirements
        if hasattr(r, "acceptance_test") and r.acceptance_test.latest_result_id
    ]
    latest = TestResult.objects.in_bulk(latest_ids)
    rows = [
        {
            "requirement": r,
            "test": getattr(r, "acceptance_test", None),
            "result": latest.get(
                getattr(getattr(r, "acceptance_test", None), "latest_result_id", None)
            ),
        }
        for r in requirements
    ]
    runs = list(masterplan.test_runs.select_related("wave")[:10])
    context = {
        "masterplan": masterplan,
        "rows": rows,
        "gate": gate_status(masterplan.pk),
        "runs": [(run, run_summary(run)) for run in runs],
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
        except RedisError:
            messages.error(request, "The job queue (Redis) is not reachable; try again shortly.")
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
        test_run = queue_run(masterplan, wave)
        try:
            test_run.job_id = enqueue("acceptance.tasks.run", str(test_run.pk))
            test_run.save(update_fields=["job_id"])
            messages.success(request, "Test run queued: the results appear here as it ends.")
        except RedisError:
            test_run.delete()
            messages.error(request, "The job queue (Redis) is not reachable; try again shortly.")
    return redirect("acceptance:masterplan-acceptance", masterplan.pk)
