"""Traces and their events, read-only: only the tracing service writes them (pruning is
`mge traces prune` or the scheduler's job; deleting one here is allowed)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tracing.models import AtomExecutionTrace, TraceEvent


class EventInline(admin.TabularInline):
    model = TraceEvent
    fields = readonly_fields = ("seq", "kind", "offset_ms", "duration_ms", "data")
    can_delete = False
    extra = 0
    max_num = 0


@admin.register(AtomExecutionTrace)
class TraceAdmin(admin.ModelAdmin):
    list_display = (
        "started_at", "scope", "atom", "requirement", "execution", "status", "total_retries",
        "llm_calls", "cost_usd", "execution_time_seconds",
    )  # fmt: skip
    list_filter = ("status", "scope", "masterplan")
    search_fields = ("atom__name", "atom__file_path", "error")
    date_hierarchy = "started_at"
    list_select_related = ("atom", "requirement")
    inlines = [EventInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AtomExecutionTrace._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
