"""A path that matches no route: JSON under the API, the site's page elsewhere."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_an_api_path_that_matches_nothing_is_a_json_404(api_client_for, viewer):
    response = api_client_for(viewer).post("/api/v2/execution/masterplans/not-a-uuid/start")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "/api/v2/execution/masterplans/not-a-uuid/start" in response.json()["detail"]
    assert "UUIDs" in response.json()["detail"]


@pytest.mark.django_db
def test_a_page_that_matches_nothing_is_the_sites_404_page(client, viewer):
    client.force_login(viewer)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Nothing lives at this address" in response.content
