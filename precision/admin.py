"""Validation runs, their checks and the snapshots, read-only: the levels and the score
write them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from precision.models import PrecisionSnapshot, ValidationCheck, ValidationRun


class ReadOnly:
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CheckInline(admin.TabularInline):
    model = ValidationCheck
    fields = readonly_fields = (
        "level",
        "category",
        "status",
        "severity",
        "file",
        "line",
        "message",
        "atom",
    )
    can_delete = False
    extra = 0
    max_num = 0
    show_change_link = True


@admin.register(ValidationRun)
class ValidationRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["masterplan", "created_at", "levels", "status", "message", "isolation"]
    list_filter = ["status"]
    search_fields = ["masterplan__name"]
    inlines = [CheckInline]


@admin.register(ValidationCheck)
class ValidationCheckAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["run", "level", "category", "status", "severity", "file", "line", "message"]
    list_filter = ["level", "status", "severity", "category"]
    search_fields = ["file", "message", "run__masterplan__name"]
    list_select_related = ["run__masterplan"]


@admin.register(PrecisionSnapshot)
class PrecisionSnapshotAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "masterplan",
        "created_at",
        "score",
        "spec_conformance",
        "integration_pass",
        "validation_pass",
        "meets_target",
    ]
    list_filter = ["meets_target"]
    search_fields = ["masterplan__name"]
