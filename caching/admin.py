"""The cache snapshots, read-only: only the scheduler's job writes them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from caching.models import CacheSnapshot


@admin.register(CacheSnapshot)
class CacheSnapshotAdmin(admin.ModelAdmin):
    list_display = ("taken_at", "kind", "masterplan", "hits", "misses", "bytes_stored", "saved_usd")
    list_filter = ("kind", "masterplan")
    date_hierarchy = "taken_at"
    list_select_related = ("masterplan",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in CacheSnapshot._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
