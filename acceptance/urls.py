from __future__ import annotations

from django.urls import path

from acceptance import views

app_name = "acceptance"

urlpatterns = [
    path(
        "masterplans/<uuid:masterplan_id>/acceptance/",
        views.masterplan_acceptance,
        name="masterplan-acceptance",
    ),
    path(
        "masterplans/<uuid:masterplan_id>/acceptance/generate/",
        views.generate,
        name="generate",
    ),
    path("masterplans/<uuid:masterplan_id>/acceptance/run/", views.run, name="run"),
    path(
        "masterplans/<uuid:masterplan_id>/acceptance/tests/<uuid:test_id>/review/",
        views.review,
        name="review",
    ),
]
