from __future__ import annotations

from django.apps import AppConfig


class CachingConfig(AppConfig):
    name = "caching"
    verbose_name = "Caching"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from caching.batches import batch_stage
        from caching.llm_cache import cache_stage
        from caching.metrics import CacheCollector
        from caching.retrieval import RedisRetrievalCache
        from execution.context import build
        from execution.llm import gateway
        from mge_site.prometheus import register_once

        gateway.plug("cache", cache_stage)
        gateway.plug("batch", batch_stage)
        build.plug_cache(RedisRetrievalCache())
        register_once(CacheCollector)
