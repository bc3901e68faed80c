from __future__ import annotations

from django.urls import path

from execution import views

app_name = "execution"

urlpatterns = [
    path("", views.masterplan_list, name="masterplan-list"),
    path("masterplans/new/", views.masterplan_upload, name="masterplan-upload"),
    path("masterplans/<uuid:masterplan_id>/", views.masterplan_detail, name="masterplan-detail"),
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
    path(
        "masterplans/<uuid:masterplan_id>/<str:action>/",
        views.masterplan_control,
        name="masterplan-control",
    ),
]
