"""Registering the apps' scrape-time collectors with Prometheus' default registry."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.registry import Collector


def register_once(collector_class: type[Collector]) -> None:
    """Register a collector unless one of its class is registered already: `ready()` runs
    again in the test runner and in management commands, and a second registration of the
    same metric names raises."""
    if not any(isinstance(c, collector_class) for c in REGISTRY._collector_to_names):
        REGISTRY.register(collector_class())
