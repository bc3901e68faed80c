from __future__ import annotations

import pytest
from django.db import connection

from mge_site.embedded_redis import EmbeddedRedis


@pytest.mark.django_db
def test_healthz_reports_database_and_redis_reachable(client, viewer):
    client.force_login(viewer)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["redis"]["rq_workers"] == 0


@pytest.mark.django_db
def test_healthz_reports_a_stopped_redis_as_unhealthy(client, settings, viewer):
    client.force_login(viewer)
    redis = EmbeddedRedis().start()
    settings.REDIS_URL = redis.url()
    assert client.get("/healthz").status_code == 200
    redis.stop()

    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["redis"]["ok"] is False
    assert "Connection refused" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_anonymous_healthz_says_only_ok_and_the_token_shows_the_details(client, settings):
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
    settings.METRICS_TOKEN = "s3cret-token"
    with_token = client.get("/healthz", headers={"Authorization": "Bearer s3cret-token"})
    assert with_token.json()["checks"]["database"]["vendor"] == connection.vendor
    wrong = client.get("/healthz", headers={"Authorization": "Bearer guess"})
    assert "checks" not in wrong.json()


@pytest.mark.django_db
def test_metrics_are_exposed_for_prometheus(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_view_transport_method_total" in response.content


@pytest.mark.django_db
def test_with_a_token_set_metrics_need_it_even_from_loopback(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"MGE_METRICS_TOKEN" in refused.content
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert allowed.status_code == 200 and b"v2_concurrency_limit" in allowed.content


@pytest.mark.django_db
def test_without_a_token_only_loopback_callers_get_metrics(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.django_db
def test_scrapes_within_the_cache_period_query_nothing(client, settings, imported,
                                                        django_assert_num_queries):  # fmt: skip
    settings.METRICS_CACHE_SECONDS = 60
    imported("slugkit")
    first = client.get("/metrics").content
    with django_assert_num_queries(0):
        for _ in range(20):
            assert client.get("/metrics").content == first
