"""The caches' figures at /metrics, read from the Redis counters at scrape time."""

from __future__ import annotations

import pytest
from redis import Redis

from caching import counters


@pytest.mark.django_db
def test_the_metrics_carry_every_kind_and_the_combined_rate(client):
    counters.count("llm_response", None, hits=3, misses=1)
    counters.count("retrieval", None, hits=1, misses=3)
    metrics = client.get("/metrics").content.decode()
    for line in ("llm_cache_hits_total 3.0", "llm_cache_misses_total 1.0",
                 "rag_cache_hits_total 1.0", "rag_cache_misses_total 3.0",
                 "v2_cache_hit_rate 0.5"):  # fmt: skip
        assert f"\n{line}\n" in metrics, line


@pytest.mark.django_db
def test_redis_down_leaves_the_cache_metrics_out_not_the_scrape(client, monkeypatch):
    broken = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.05)
    monkeypatch.setattr(counters, "cache_redis", lambda: broken)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "v2_cache_hit_rate" not in response.content.decode()
