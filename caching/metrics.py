"""Prometheus figures of the caches, read from Redis at scrape time (the web process
serves /metrics; the counters are written by the workers)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from caching.counters import all_stats

NAMES = {
    "llm_response": ("llm_cache", "LLM calls"),
    "retrieval": ("rag_cache", "Atom context retrievals"),
}
"""A kind's metric prefix (the seed's names) and what it counts."""


class CacheCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            figures = all_stats()
        except RedisError:
            return
        for kind, (prefix, what) in NAMES.items():
            hits = CounterMetricFamily(f"{prefix}_hits", f"{what} answered from the cache")
            hits.add_metric([], figures[kind]["hits"])
            misses = CounterMetricFamily(f"{prefix}_misses", f"{what} the cache could not answer")
            misses.add_metric([], figures[kind]["misses"])
            yield from (hits, misses)
        # Unlabelled, all kinds together: the rate the MGE_V2_Cache_Low alert watches.
        rate = GaugeMetricFamily(
            "v2_cache_hit_rate", "Hits / (hits + misses) of every cache together, since counted"
        )
        rate.add_metric([], figures["combined"]["hit_rate"] or 0.0)
        yield rate
