"""Prometheus figures of tracing, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from tracing.service import errors_counted


class TracingCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            errors = errors_counted()
        except RedisError:
            return
        family = CounterMetricFamily(
            "v2_tracing_errors", "Trace writes that failed (the atoms went on untraced)"
        )
        family.add_metric([], errors)
        yield family
