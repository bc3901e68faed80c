from __future__ import annotations

from django.urls import path

from execution.pages import views
from execution.runtime.lifecycle import ACTIONS

app_name = "execution"

urlpatterns = [
    path("", views.masterplan_list, name="masterplan-list"),
    path("masterplans/new/", views.masterplan_upload, name="masterplan-upload"),
    path("dashboards/concurrency/", views.concurrency_dashboard, name="concurrency-dashboard"),
    path("masterplans/<uuid:masterplan_id>/", views.masterplan_detail, name="masterplan-detail"),
    path(
        "masterplans/<uuid:masterplan_id>/dependencies/",
        views.dependency_graph,
        name="masterplan-dependencies",
    ),
    path(
        "masterplans/<uuid:masterplan_id>/document/",
        views.masterplan_document,
        name="masterplan-document",
    ),
    path(
        "masterplans/<uuid:masterplan_id>/files/",
        views.workspace_file,
        name="masterplan-file",
    ),
    path(
        "masterplans/<uuid:masterplan_id>/delete/",
        views.masterplan_delete,
        name="masterplan-delete",
    ),
    *[
        path(
            f"masterplans/<uuid:masterplan_id>/{action}/",
            views.masterplan_control,
            {"action": action},
            name=f"masterplan-{action}",
        )
        for action in ACTIONS
    ],
]
