from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from acceptance.models import AcceptanceTest, Requirement, TestResult, TestRun
from execution.admin import ImportedOnly


@admin.register(Requirement)
class RequirementAdmin(ImportedOnly, admin.ModelAdmin):
    list_display = [
        "short_text",
        "priority",
        "classified_by",
        "flagged",
        "masterplan",
        "source_line",
    ]
    list_filter = ["priority", "classified_by", "masterplan"]
    list_select_related = ["masterplan"]
    search_fields = ["text", "flag", "masterplan__name"]

    @admin.display(description="text")
    def short_text(self, requirement: Requirement) -> str:
        return requirement.text[:100]

    @admin.display(description="flag", boolean=True)
    def flagged(self, requirement: Requirement) -> bool:
        return bool(requirement.flag)


class ReadOnly:
    """Written by the generator and the runner: operators read them, never edit them."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AcceptanceTest)
class AcceptanceTestAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["file_path", "masterplan", "framework", "status", "generated_by", "created_at"]
    list_filter = ["status", "framework", "generated_by"]
    list_select_related = ["masterplan"]
    search_fields = ["file_path", "masterplan__name", "requirement__text"]


class TestResultInline(ReadOnly, admin.TabularInline):
    model = TestResult
    fields = readonly_fields = ("test", "status", "duration_s", "message")
    extra = 0


@admin.register(TestRun)
class TestRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "masterplan", "wave", "status", "isolation"]
    list_filter = ["status", "isolation"]
    list_select_related = ["masterplan", "wave"]
    inlines = [TestResultInline]
    date_hierarchy = "created_at"
