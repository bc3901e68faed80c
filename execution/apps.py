from __future__ import annotations

from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    name = "execution"
    verbose_name = "Execution"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from execution.runtime.concurrency.metrics import ConcurrencyCollector

        if not any(isinstance(c, ConcurrencyCollector) for c in REGISTRY._collector_to_names):
            REGISTRY.register(ConcurrencyCollector())
