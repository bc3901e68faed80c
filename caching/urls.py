from __future__ import annotations

from django.urls import path

from caching.views import cache_stats

app_name = "caching"

urlpatterns = [path("caching/", cache_stats, name="cache-stats")]
