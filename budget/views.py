"""The budget page of a masterplan: status, breakdowns, ledger, alerts, override."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from budget.caps import CapsRefused, decide, held_message, pending_request, set_caps
from budget.forms import CapsForm, DecisionForm, OverrideForm
from budget.models import CostEntry
from budget.overrides import (
    CapTooLow,
    CodeRefused,
    CodeRejected,
    code_request_message,
    override_and_resume,
    request_code,
    soft_cap_after,
)
from budget.status import budget_status
from execution.models import MasterPlan
from execution.runtime import jobs
from mge_site.http import HtmxHttpRequest, SignedInHtmxHttpRequest


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def masterplan_budget(request: HtmxHttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    entries = CostEntry.objects.filter(masterplan=masterplan)
    page = Paginator(entries.select_related("atom", "wave"), 50).get_page(request.GET.get("page"))
    context = {"masterplan": masterplan, "ledger": page}
    if request.htmx and request.htmx.target == "ledger":
        return render(request, "budget/_ledger.html", context)

    def breakdown(field: str):  # type: ignore[no-untyped-def]
        return (
            entries.values(field)
            .annotate(calls=Count("pk"), cost=Sum("cost_usd"))
            .order_by("-cost")[:20]
        )

    context |= {
        "state": budget_status(masterplan),
        "by_wave": breakdown("wave__number"),
        "by_model": breakdown("model"),
        "by_atom": breakdown("atom__name"),
        "alerts": masterplan.alerts.all()[:50],
        "overrides": masterplan.overrides.select_related("approved_by")[:50],
        "cap_requests": masterplan.cap_requests.select_related("requested_by", "decided_by")[:50],
        "pending_cap_request": pending_request(masterplan),
        "decision_form": DecisionForm(),
        "form": OverrideForm(),
        "caps_form": CapsForm(
            initial={
                "soft_cap_usd": masterplan.budget_soft_cap_usd,
                "hard_cap_usd": masterplan.budget_hard_cap_usd,
            }
        ),
    }
    return render(request, "budget/masterplan_budget.html", context)


@login_required
@permission_required("execution.override_budget", raise_exception=True)
@require_POST
def override(request: SignedInHtmxHttpRequest, masterplan_id: str) -> HttpResponse:
    """Two steps: review what will change, then confirm."""
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    form = OverrideForm(request.POST)
    context = {"masterplan": masterplan, "form": form, "state": budget_status(masterplan)}
    if not form.is_valid():
        return render(request, "budget/_override_form.html", context, status=422)
    data = form.cleaned_data
    if not data["confirmed"]:
        confirm = OverrideForm(initial={**data, "confirmed": True})
        soft = soft_cap_after(masterplan, data["new_hard_cap"], data["new_soft_cap"])
        return render(
            request,
            "budget/_override_confirm.html",
            {**context, "form": confirm, "data": data, "new_soft_cap": soft},
        )
    try:
        override_and_resume(
            masterplan.pk, request.user, data["new_hard_cap"], data["confirmation_code"],
            data["reason"], data["new_soft_cap"],
        )  # fmt: skip
    except (CodeRejected, CapTooLow, jobs.QueueUnavailable) as refused:
        form.add_error(None, str(refused))
        return render(request, "budget/_override_form.html", context, status=422)
    messages.success(request, f"Hard cap raised to ${data['new_hard_cap']}; execution resumes.")
    url = reverse("budget:masterplan-budget", args=[masterplan.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@permission_required("execution.override_budget", raise_exception=True)
@require_POST
def new_code(request: HttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    try:
        issued = request_code(masterplan, request.user)  # type: ignore[arg-type]
    except CodeRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.info(request, code_request_message(issued))
    return redirect("budget:masterplan-budget", masterplan_id=masterplan.pk)


@login_required
@permission_required("execution.run_masterplan", raise_exception=True)
@require_POST
def caps(request: SignedInHtmxHttpRequest, masterplan_id: str) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    form = CapsForm(request.POST)
    if form.is_valid():
        try:
            saved = set_caps(
                masterplan.pk, request.user, form.cleaned_data["hard_cap_usd"],
                form.cleaned_data["soft_cap_usd"],
            )  # fmt: skip
        except CapsRefused as refused:
            messages.error(request, str(refused))
        else:
            if saved.held:
                messages.warning(request, held_message(saved.held))
            else:
                messages.success(request, "Caps saved.")
    else:
        messages.error(request, "Caps not saved: " + "; ".join(
            f"{form.fields[name].label}: {' '.join(map(str, errors))}"
            for name, errors in form.errors.items()
        ))  # fmt: skip
    return redirect("budget:masterplan-budget", masterplan_id=masterplan.pk)


@login_required
@permission_required("execution.override_budget", raise_exception=True)
@require_POST
def cap_request_decision(
    request: SignedInHtmxHttpRequest, masterplan_id: str, request_id: str
) -> HttpResponse:
    masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose grant or refuse.")
    else:
        try:
            decided = decide(
                masterplan.pk,
                request_id,
                request.user,
                grant=form.cleaned_data["decision"] == "grant",
                note=form.cleaned_data["note"],
            )
        except CapsRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, f"Cap request for ${decided.hard_cap_usd} {decided.status}.")
    return redirect("budget:masterplan-budget", masterplan_id=masterplan.pk)
