"""The shared concurrency limit for Prometheus, read from Redis at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.exceptions import RedisError

from execution.runtime.concurrency import ConcurrencyLimiter


def _families() -> tuple[
    GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, CounterMetricFamily
]:
    return (
        GaugeMetricFamily("v2_concurrency_limit", "LLM calls allowed in flight, all workers"),
        GaugeMetricFamily("v2_concurrency_in_flight", "LLM calls in flight, all workers"),
        GaugeMetricFamily("v2_concurrency_queue_depth", "LLM calls waiting for a slot"),
        CounterMetricFamily(
            "v2_concurrency_adjustments", "Changes of the limit, by kind", labels=["reason"]
        ),
    )


class ConcurrencyCollector:
    def describe(self) -> Iterator[Metric]:
        """Names only: registering must not reach Redis."""
        yield from _families()

    def collect(self) -> Iterator[Metric]:
        limit, in_flight, queue, adjustments = _families()
        try:
            stats = ConcurrencyLimiter().stats()
            counts = ConcurrencyLimiter().adjustment_counts()
        except RedisError:
            return  # /metrics stays up; healthz reports Redis
        limit.add_metric([], stats["current_limit"])
        in_flight.add_metric([], stats["active_executions"])
        queue.add_metric([], stats["queue_depth"])
        for kind, count in sorted(counts.items()):
            adjustments.add_metric([kind], count)
        yield from (limit, in_flight, queue, adjustments)
