from __future__ import annotations

from django.urls import path

from budget import views

app_name = "budget"

urlpatterns = [
    path(
        "masterplans/<uuid:masterplan_id>/budget/",
        views.masterplan_budget,
        name="masterplan-budget",
    ),
    path("masterplans/<uuid:masterplan_id>/budget/override/", views.override, name="override"),
    path("masterplans/<uuid:masterplan_id>/budget/codes/", views.new_code, name="new-code"),
    path("masterplans/<uuid:masterplan_id>/budget/caps/", views.caps, name="caps"),
    path(
        "masterplans/<uuid:masterplan_id>/budget/cap-requests/<uuid:request_id>/",
        views.cap_request_decision,
        name="cap-request-decision",
    ),
]
