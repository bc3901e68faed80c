from __future__ import annotations

from django.contrib import admin

from acceptance.models import Requirement
from execution.admin import ImportedOnly


@admin.register(Requirement)
class RequirementAdmin(ImportedOnly, admin.ModelAdmin):
    list_display = ["short_text", "priority", "masterplan", "source_line"]
    list_filter = ["priority", "masterplan"]
    list_select_related = ["masterplan"]
    search_fields = ["text", "masterplan__name"]

    @admin.display(description="text")
    def short_text(self, requirement: Requirement) -> str:
        return requirement.text[:100]
