from __future__ import annotations

import pytest

from mge_site.embedded_redis import EmbeddedRedis


@pytest.mark.django_db
def test_healthz_reports_database_and_redis_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["redis"]["rq_workers"] == 0


@pytest.mark.django_db
def test_healthz_reports_a_stopped_redis_as_unhealthy(client, settings):
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
def test_metrics_are_exposed_for_prometheus(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_view_transport_method_total" in response.content
