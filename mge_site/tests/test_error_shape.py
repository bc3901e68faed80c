"""Every API 4xx has one shape: {"detail": "what to fix", "errors": {field: [messages]}}."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def assert_shape(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["errors"], dict), body
    assert all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in body["errors"].values()
    ), body
    return body


def test_validation_errors_name_the_fields_and_say_what_to_fix(api_client_for, reviewer):
    client = api_client_for(reviewer)
    empty = assert_shape(client.post("/api/v2/masterplans/", {}, format="json"), 400)
    assert empty["detail"] == (
        "Send the masterplan document as 'document' (its text) or as 'file' (an upload)."
    )
    assert list(empty["errors"]) == ["non_field_errors"]
    bad = assert_shape(
        client.post("/api/v2/masterplans/", {"document": "# no"}, format="json"), 400
    )
    assert bad["errors"]["document"] and bad["problems"][0]["message"]


def test_every_kind_of_refusal_has_the_shape(api_client_for, viewer, reviewer, imported, settings):
    masterplan = imported("slugkit")
    assert_shape(APIClient().get("/api/v2/masterplans/"), 401)
    assert_shape(api_client_for(viewer).delete(f"/api/v2/masterplans/{masterplan.pk}/"), 403)
    assert_shape(api_client_for(viewer).get("/api/v2/masterplans/not-a-uuid/"), 404)
    assert_shape(api_client_for(viewer).get("/api/v2/no-such-endpoint"), 404)
    for job_id in ("a.b", "%C3%BF", "x" * 129):  # outside RQ's job ids: 404, not a 500
        missing = assert_shape(api_client_for(viewer).get(f"/api/v2/jobs/{job_id}"), 404)
        assert "No API endpoint at /api/v2/jobs/" in missing["detail"]
    started = api_client_for(reviewer).post(f"/api/v2/execution/masterplans/{masterplan.pk}/pause")
    conflict = assert_shape(started, 409)
    assert conflict["status"] == "ready"  # a conflict keeps its own keys beside the shape
    big = api_client_for(reviewer).generic(
        "POST", "/api/v2/masterplans/", "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
        content_type="application/json",
    )  # fmt: skip
    assert_shape(big, 413)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"page": ""}, 400),
        ({"page": "0"}, 400),
        ({"page": "x"}, 400),
        ({"page": "²"}, 400),
        ({"page_size": "null"}, 400),
        ({"page_size": "501"}, 400),
        ({"page": "99"}, 404),
        ({"masterplan": ""}, 400),
        ({"masterplan": "nope"}, 400),
        ({"status": "green"}, 400),
    ],
)
def test_list_parameters_are_checked(api_client_for, viewer, query, status):
    body = assert_shape(api_client_for(viewer).get("/api/v2/atoms/", query), status)
    if status == 400:
        assert list(body["errors"]) == list(query), body


def test_good_list_parameters_still_work(api_client_for, viewer, imported):
    imported("slugkit")
    response = api_client_for(viewer).get("/api/v2/atoms/", {"page": "1", "page_size": "2"})
    assert response.status_code == 200 and len(response.json()["results"]) == 2
