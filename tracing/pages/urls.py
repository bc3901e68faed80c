from __future__ import annotations

from django.urls import path

from tracing.pages.dashboard import all_dashboard, plan_dashboard
from tracing.pages.trace import atom_trace

urlpatterns = [
    path("atoms/<uuid:atom_id>/trace/", atom_trace, name="atom-trace"),
    path("masterplans/<uuid:masterplan_id>/traces/", plan_dashboard, name="trace-dashboard"),
    path("traces/", all_dashboard, name="trace-dashboard-all"),
]
