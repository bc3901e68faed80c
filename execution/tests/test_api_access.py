from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from execution.models import MasterPlan
from execution.tests.test_masterplan_format import MINIMAL

READ_ENDPOINTS = [
    "/api/v2/masterplans/",
    "/api/v2/phases/",
    "/api/v2/milestones/",
    "/api/v2/tasks/",
    "/api/v2/atoms/",
    "/api/v2/waves/",
    "/api/v2/requirements/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [*READ_ENDPOINTS, "/api/v2/schema/"])
def test_anonymous_callers_get_401_with_a_token_challenge(url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_anonymous_import_is_refused_and_creates_nothing():
    response = APIClient().post("/api/v2/masterplans/", {"document": MINIMAL}, format="json")
    assert response.status_code == 401
    assert not MasterPlan.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("url", READ_ENDPOINTS)
def test_a_viewer_reads_every_list_paginated(api_client_for, viewer, imported, url):
    imported("slugkit")
    response = api_client_for(viewer).get(url)
    assert response.status_code == 200
    body = response.json()
    assert {"count", "next", "previous", "results"} <= set(body)
    assert body["count"] >= 1


@pytest.mark.django_db
def test_a_viewer_cannot_import_or_delete(api_client_for, viewer, imported):
    masterplan = imported("slugkit")
    client = api_client_for(viewer)
    assert (
        client.post("/api/v2/masterplans/", {"document": MINIMAL}, format="json").status_code == 403
    )
    assert client.delete(f"/api/v2/masterplans/{masterplan.pk}/").status_code == 403
    assert MasterPlan.objects.count() == 1


@pytest.mark.django_db
def test_a_user_without_a_role_cannot_read(api_client_for, nobody, imported):
    imported("slugkit")
    assert api_client_for(nobody).get("/api/v2/masterplans/").status_code == 403


@pytest.mark.django_db
def test_a_reviewer_deletes_a_masterplan_and_its_rows(api_client_for, reviewer, imported):
    masterplan = imported("slugkit")
    response = api_client_for(reviewer).delete(f"/api/v2/masterplans/{masterplan.pk}/")
    assert response.status_code == 204
    assert not MasterPlan.objects.exists()


@pytest.mark.django_db
def test_deleting_a_running_masterplan_is_a_conflict(api_client_for, reviewer, imported):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.RUNNING)
    response = api_client_for(reviewer).delete(f"/api/v2/masterplans/{masterplan.pk}/")
    assert response.status_code == 409
    assert "cancel it first" in response.json()["detail"]
    assert MasterPlan.objects.filter(pk=masterplan.pk).exists()


@pytest.mark.django_db
def test_detail_shows_waves_and_requirement_counts(api_client_for, viewer, imported):
    masterplan = imported("inventory-service")
    body = api_client_for(viewer).get(f"/api/v2/masterplans/{masterplan.pk}/").json()
    assert [wave["number"] for wave in body["waves"]] == [1, 2, 3]
    assert body["requirement_count"] == {"must": 4, "should": 3}
    assert body["atom_total"] == 9
    assert body["budget_hard_cap_usd"] == "12.000000"


@pytest.mark.django_db
def test_atoms_filter_by_masterplan_and_show_dependencies(api_client_for, viewer, imported):
    wanted = imported("slugkit")
    imported("typed-event-bus")
    client = api_client_for(viewer)
    body = client.get("/api/v2/atoms/", {"masterplan": str(wanted.pk), "page_size": 100}).json()
    assert body["count"] == 6
    package_init = next(atom for atom in body["results"] if atom["name"] == "package_init")
    assert len(package_init["depends_on"]) == 3
    assert package_init["wave_number"] == 4


@pytest.mark.django_db
def test_tasks_filter_by_masterplan_through_the_tree(api_client_for, viewer, imported):
    wanted = imported("slugkit")
    imported("inventory-service")
    body = api_client_for(viewer).get("/api/v2/tasks/", {"masterplan": str(wanted.pk)}).json()
    assert body["count"] == 3


@pytest.mark.django_db
def test_a_malformed_filter_id_is_a_400_saying_so(api_client_for, viewer):
    response = api_client_for(viewer).get("/api/v2/atoms/", {"masterplan": "not-a-uuid"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"masterplan": ["Enter a valid UUID."]}


@pytest.mark.django_db
def test_a_well_formed_id_of_nothing_filters_to_an_empty_page(api_client_for, viewer):
    for route in ("atoms", "waves", "phases", "milestones", "tasks", "requirements"):
        response = api_client_for(viewer).get(f"/api/v2/{route}/", {"masterplan": uuid.uuid4()})
        assert response.status_code == 200, (route, response.content)
        assert response.json()["count"] == 0


@pytest.mark.django_db
def test_unknown_and_malformed_ids_are_404(api_client_for, viewer):
    client = api_client_for(viewer)
    assert (
        client.get("/api/v2/masterplans/00000000-0000-0000-0000-000000000000/").status_code == 404
    )
    assert client.get("/api/v2/masterplans/not-a-uuid/").status_code == 404


@pytest.mark.django_db
def test_drf_create_token_gives_a_working_token(viewer, capsys):
    call_command("drf_create_token", viewer.username)
    key = capsys.readouterr().out.split()[2]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v2/masterplans/").status_code == 200


@pytest.mark.django_db
def test_session_login_works_for_the_api(client, viewer):
    client.force_login(viewer)
    assert client.get("/api/v2/masterplans/").status_code == 200


@pytest.mark.django_db
def test_openapi_schema_and_docs_page_are_served(client, viewer):
    client.force_login(viewer)
    schema = client.get("/api/v2/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v2/masterplans/" in paths
    assert "post" in paths["/api/v2/masterplans/"]
    docs = client.get("/api/v2/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()
