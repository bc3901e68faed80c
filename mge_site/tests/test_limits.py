"""Limits a caller meets: the request size before the body is read, and the API's rates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from budget.models import CostEntry
from execution.models import MasterPlan

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024


def test_an_api_body_over_the_limit_is_a_json_413_and_is_not_read(reviewer, api_client_for):
    client = api_client_for(reviewer)
    # The declared length decides: 300 MB declared, a few bytes sent. Were the body read,
    # the import would answer 400 for a document that is not one.
    response = client.generic("POST", "/api/v2/masterplans/", "x", content_type="text/markdown",
                              CONTENT_LENGTH=str(300 * MIB))  # fmt: skip
    assert response.status_code == 413
    body = response.json()
    assert body["limit_bytes"] == 2 * MIB
    assert "314,572,800 bytes; the limit is 2,097,152 bytes" in body["detail"]
    assert not MasterPlan.objects.exists()


def test_a_json_body_of_20_mb_gets_the_same_json_413(reviewer, api_client_for):
    client = api_client_for(reviewer)
    response = client.post("/api/v2/masterplans/", {"document": "x" * (20 * MIB)}, format="json")
    assert response.status_code == 413 and "limit is 2,097,152 bytes" in response.json()["detail"]


def test_the_upload_page_says_what_the_importer_says_of_a_large_file(client, reviewer):
    client.force_login(reviewer)
    url = reverse("execution:masterplan-upload")
    big = client.generic("POST", url, "x", content_type="multipart/form-data; boundary=b",
                         CONTENT_LENGTH=str(300 * MIB))  # fmt: skip
    assert big.status_code == 413
    assert "the limit is 1,048,576 bytes (1 MiB)" in big.content.decode()
    assert "<form" in big.content.decode()  # the page, with the form to try again
    # Under the request limit, over the document's: the importer's own answer.
    from django.core.files.uploadedfile import SimpleUploadedFile

    medium = SimpleUploadedFile("plan.md", b"x" * (MIB + MIB // 2), content_type="text/markdown")
    answer = client.post(url, {"file": medium})
    assert answer.status_code == 422
    assert "the limit is 1,048,576 bytes (1 MiB)" in answer.content.decode()


def test_the_api_rate_limits_answer_429_with_retry_after(monkeypatch, viewer, api_client_for):
    from rest_framework.throttling import SimpleRateThrottle

    # DRF binds the rates to its throttle class when it is imported.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": "3/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    client = api_client_for(viewer)
    statuses = [client.get("/api/v2/masterplans/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v2/masterplans/")
    assert int(refused["Retry-After"]) > 0
    assert "Request was throttled" in refused.json()["detail"]


def test_override_codes_are_limited_per_user_and_per_masterplan(
    imported, approver, django_user_model, api_client_for
):
    from django.contrib.auth.models import Group

    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED_BUDGET)
    CostEntry.objects.create(masterplan=masterplan, model="claude-haiku-4-5",
                             cost_usd=Decimal("4.5"), reservation_id="r1")  # fmt: skip
    url = f"/api/v2/execution/budget/{masterplan.pk}/override"
    guess = {"new_hard_cap": "10", "confirmation_code": "000000"}
    client = api_client_for(approver)
    guesses = [client.post(url, guess, format="json").status_code for _ in range(6)]
    assert guesses == [403] * 5 + [429]
    # Another approver gets no fresh tries on the same plan.
    other = django_user_model.objects.create_user("otto", "otto@example.com", "pw-otto")
    other.groups.add(Group.objects.get(name="budget_approver"))
    guess = {"new_hard_cap": "10", "confirmation_code": "000000"}
    response = api_client_for(other).post(url, guess, format="json")
    assert response.status_code == 429


def test_the_rate_window_slides_and_every_web_process_counts_in_it(
    monkeypatch, viewer, api_client_for
):
    import time

    from rest_framework.throttling import SimpleRateThrottle

    from mge_site.redis_connection import shared_redis

    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": "2/second"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    client = api_client_for(viewer)
    assert [client.get("/api/v2/masterplans/").status_code for _ in range(3)] == [200, 200, 429]
    # The window is one sorted set in the shared Redis, expiring with the window.
    key = f"mge:throttle:throttle_user_{viewer.pk}"
    assert shared_redis().zcard(key) == 2 and 0 < shared_redis().ttl(key) <= 1
    time.sleep(1.05)  # the first two have left the window
    assert client.get("/api/v2/masterplans/").status_code == 200


def test_an_unreachable_redis_lets_api_requests_through(monkeypatch, viewer, api_client_for):
    from redis import Redis

    from mge_site import throttling
    from mge_site.embedded_redis import free_loopback_port

    nowhere = Redis(port=free_loopback_port(), socket_connect_timeout=0.2)
    monkeypatch.setattr(throttling, "quick_redis", lambda timeout_seconds: nowhere)
    assert api_client_for(viewer).get("/api/v2/masterplans/").status_code == 200
