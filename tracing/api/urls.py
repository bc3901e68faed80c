"""`/api/v2/traceability/…`."""

from __future__ import annotations

from django.urls import path

from tracing.api.correlation import AllCorrelationView, CorrelationView
from tracing.api.traces import MasterPlanTracesView, TraceView

urlpatterns = [
    path("traceability/trace/<str:atom_id>", TraceView.as_view(), name="traceability-trace"),
    path(
        "traceability/masterplan/<uuid:masterplan_id>",
        MasterPlanTracesView.as_view(),
        name="traceability-masterplan",
    ),
    path(
        "traceability/masterplan/<uuid:masterplan_id>/correlation",
        CorrelationView.as_view(),
        name="traceability-correlation",
    ),
    path(
        "traceability/correlation",
        AllCorrelationView.as_view(),
        name="traceability-correlation-all",
    ),
]
