"""Prometheus figures of the caches, read from Redis at scrape time (the web process
serves /metrics; the counters are written by the workers)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from caching.counters import stats


class CacheCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            figures = stats("llm_response")
        except RedisError:
            return
        hits = CounterMetricFamily("llm_cache_hits", "LLM calls answered from the cache")
        hits.add_metric([], figures["hits"])
        misses = CounterMetricFamily("llm_cache_misses", "LLM calls the cache could not answer")
        misses.add_metric([], figures["misses"])
        rate = GaugeMetricFamily("v2_cache_hit_rate", "Hits / (hits + misses) of the LLM cache")
        rate.add_metric([], figures["hit_rate"] or 0.0)
        yield from (hits, misses, rate)
