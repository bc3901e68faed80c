from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest

from execution.models import (
    Atom,
    AtomDependency,
    MasterPlan,
    Milestone,
    Phase,
    Task,
    Wave,
    WaveCheck,
)
from execution.signals import caps_changed


class ImportedOnly:
    """Plans come from documents (upload, API, `mge import`): the import validates paths,
    dependencies and cycles and plans the waves, which an admin form would bypass."""

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


class PhaseInline(ImportedOnly, admin.TabularInline):
    model = Phase
    fields = ["position", "name", "description"]
    extra = 0
    show_change_link = True


class WaveInline(ImportedOnly, admin.TabularInline):
    model = Wave
    fields = ("number", "status", "atom_count", "completed_count", "failed_count")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(MasterPlan)
class MasterPlanAdmin(ImportedOnly, admin.ModelAdmin):
    list_display = ["name", "status", "budget_soft_cap_usd", "budget_hard_cap_usd", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["name", "summary", "id"]
    # The status has one writer, the lifecycle (the page, the API and the CLI call it).
    readonly_fields = ["id", "status", "status_reason", "workspace_path", "created_by",
                       "created_at", "updated_at"]  # fmt: skip
    inlines = [PhaseInline, WaveInline]
    date_hierarchy = "created_at"

    def save_model(self, request: HttpRequest, obj: MasterPlan, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if {"budget_soft_cap_usd", "budget_hard_cap_usd"} & set(form.changed_data):
            transaction.on_commit(lambda: caps_changed.send(sender=MasterPlan, masterplan=obj))


class MilestoneInline(ImportedOnly, admin.TabularInline):
    model = Milestone
    fields = ["position", "name", "description"]
    extra = 0
    show_change_link = True


@admin.register(Phase)
class PhaseAdmin(ImportedOnly, admin.ModelAdmin):
    list_display = ["name", "masterplan", "position"]
    list_select_related = ["masterplan"]
    search_fields = ["name", "masterplan__name"]
    inlines = [MilestoneInline]


class TaskInline(ImportedOnly, admin.TabularInline):
    model = Task
    fields = ["position", "name", "description"]
    extra = 0
    show_change_link = True


@admin.register(Milestone)
class MilestoneAdmin(ImportedOnly, admin.ModelAdmin):
    list_display = ["name", "phase", "position"]
    list_select_related = ["phase"]
    search_fields = ["name", "phase__name"]
    inlines = [TaskInline]


class AtomInline(ImportedOnly, admin.TabularInline):
    model = Atom
    fields = ("name", "file_path", "language", "complexity", "status")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False


@admin.register(Task)
class TaskAdmin(ImportedOnly, admin.ModelAdmin):
    list_display = ["name", "milestone", "position"]
    list_select_related = ["milestone"]
    search_fields = ["name", "milestone__name"]
    inlines = [AtomInline]


class DependencyInline(ImportedOnly, admin.TabularInline):
    model = AtomDependency
    fk_name = "atom"
    fields = ("depends_on", "kind")
    readonly_fields = fields
    extra = 0
    can_delete = False  # the waves were planned from these edges


@admin.register(Atom)
class AtomAdmin(ImportedOnly, admin.ModelAdmin):
    list_display = [
        "name",
        "masterplan",
        "wave",
        "language",
        "complexity",
        "status",
        "attempts",
        "cost_usd",
    ]
    list_filter = ["status", "language", "complexity", "masterplan"]
    list_select_related = ["masterplan", "wave"]
    search_fields = ["name", "file_path", "masterplan__name"]
    readonly_fields = [
        "id",
        "masterplan",
        "task",
        "wave",
        "file_path",
        "language",
        "generated_code",
        "cost_usd",
        "execution_time_seconds",
        "context_score",
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
    ]
    inlines = [DependencyInline]


@admin.register(Wave)
class WaveAdmin(ImportedOnly, admin.ModelAdmin):
    list_display = [
        "masterplan",
        "number",
        "status",
        "atom_count",
        "completed_count",
        "failed_count",
    ]
    list_filter = ["status"]
    list_select_related = ["masterplan"]
    search_fields = ["masterplan__name"]


@admin.register(WaveCheck)
class WaveCheckAdmin(ImportedOnly, admin.ModelAdmin):
    """What each registered check said after each wave: written by the checks' jobs and
    read by the lifecycle, so it is shown, not edited (resume asks a check again)."""

    list_display = ["masterplan", "wave", "check_name", "state", "queued_at", "decided_at"]
    list_filter = ["state", "check_name"]
    list_select_related = ["masterplan", "wave"]
    search_fields = ["masterplan__name", "reason"]
    readonly_fields = ("id", "masterplan", "wave", "check_name", "state", "reason", "job_id",
                       "queued_at", "decided_at")  # fmt: skip

    def has_delete_permission(self, request: HttpRequest, obj: WaveCheck | None = None) -> bool:
        return False
