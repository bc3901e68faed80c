from __future__ import annotations

from django.apps import AppConfig


class CachingConfig(AppConfig):
    name = "caching"
    verbose_name = "Caching"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from caching.llm_cache import cache_stage
        from caching.metrics import CacheCollector
        from execution.llm import gateway

        gateway.plug("cache", cache_stage)
        if not any(isinstance(c, CacheCollector) for c in REGISTRY._collector_to_names):
            REGISTRY.register(CacheCollector())
