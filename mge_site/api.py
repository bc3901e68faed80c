"""`/api/v2/`: every app's API endpoints under one router, plus the OpenAPI schema."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from acceptance.api import (
    GateStatusView,
    GenerateView,
    RequirementViewSet,
    ResultsView,
    ReviewView,
    RunDetailView,
    RunView,
)
from budget.api import (
    BudgetView,
    CapRequestDecisionView,
    CapRequestsView,
    ConfirmationCodeView,
    OverrideView,
)
from caching.api import CacheSeriesView, CacheStatsView, CacheTopKeysView
from execution.api.dependencies import DependencyGraphView
from execution.api.masterplans import (
    AtomViewSet,
    MasterPlanViewSet,
    MilestoneViewSet,
    PhaseViewSet,
    TaskViewSet,
    WaveViewSet,
)
from execution.api.runs import (
    ConcurrencyStatsView,
    JobView,
    MasterPlanControlView,
    MasterPlanProgressView,
)
from execution.runtime import lifecycle
from precision.api import HistoryView, ScoreView, ValidationView

router = DefaultRouter()
router.register("masterplans", MasterPlanViewSet, basename="masterplan")
router.register("phases", PhaseViewSet)
router.register("milestones", MilestoneViewSet)
router.register("tasks", TaskViewSet)
router.register("atoms", AtomViewSet)
router.register("waves", WaveViewSet)
router.register("requirements", RequirementViewSet)

urlpatterns = [
    *[
        path(
            f"execution/masterplans/<uuid:masterplan_id>/{action}",
            MasterPlanControlView.as_view(action_name=action),
            name=f"masterplan-{action}",
        )
        for action in lifecycle.ACTIONS
    ],
    path(
        "execution/masterplans/<uuid:masterplan_id>/progress",
        MasterPlanProgressView.as_view(),
        name="masterplan-progress",
    ),
    # RQ's own rule for a job id: anything else would reach Job.fetch and fail there.
    re_path(r"^jobs/(?P<job_id>[A-Za-z0-9_-]{1,128})$", JobView.as_view(), name="job"),
    path(
        "execution/concurrency-stats",
        ConcurrencyStatsView.as_view(),
        name="concurrency-stats",
    ),
    path("execution/budget/<uuid:masterplan_id>", BudgetView.as_view(), name="budget"),
    path(
        "execution/budget/<uuid:masterplan_id>/override",
        OverrideView.as_view(),
        name="budget-override",
    ),
    path(
        "execution/budget/<uuid:masterplan_id>/codes",
        ConfirmationCodeView.as_view(),
        name="budget-codes",
    ),
    path(
        "execution/budget/<uuid:masterplan_id>/cap-requests",
        CapRequestsView.as_view(),
        name="budget-cap-requests",
    ),
    path(
        "execution/budget/<uuid:masterplan_id>/cap-requests/<uuid:request_id>",
        CapRequestDecisionView.as_view(),
        name="budget-cap-request-decision",
    ),
    path("testing/generate/<uuid:masterplan_id>", GenerateView.as_view(), name="testing-generate"),
    path("testing/run/<uuid:wave_id>", RunView.as_view(), name="testing-run"),
    path("testing/tests/<uuid:test_id>/review", ReviewView.as_view(), name="testing-test-review"),
    path("testing/runs/<uuid:run_id>", RunDetailView.as_view(), name="testing-run-detail"),
    path("testing/results/<uuid:masterplan_id>", ResultsView.as_view(), name="testing-results"),
    path(
        "testing/gate-status/<uuid:masterplan_id>",
        GateStatusView.as_view(),
        name="testing-gate-status",
    ),
    path("caching/stats", CacheStatsView.as_view(), name="caching-stats"),
    path("caching/series", CacheSeriesView.as_view(), name="caching-series"),
    path("caching/top-keys", CacheTopKeysView.as_view(), name="caching-top-keys"),
    path(
        "dependency/graph/<uuid:masterplan_id>",
        DependencyGraphView.as_view(),
        name="dependency-graph",
    ),
    path("precision/score/<uuid:masterplan_id>", ScoreView.as_view(), name="precision-score"),
    path(
        "precision/history/<uuid:masterplan_id>",
        HistoryView.as_view(),
        name="precision-history",
    ),
    path(
        "validation/masterplan/<uuid:masterplan_id>",
        ValidationView.as_view(),
        name="validation-masterplan",
    ),
    path("", include("tracing.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script for the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
]
