"""The three roles as Django groups, and the helper data migrations use to grant to them.

viewer          reads everything
reviewer        imports, deletes, runs masterplans, generates and runs acceptance tests
budget_approver overrides hard budget caps

Each app grants its own permissions in a data migration calling `grant`, so a new app
extends the roles without editing another app's migrations.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions

VIEWER, REVIEWER, BUDGET_APPROVER = "viewer", "reviewer", "budget_approver"
ROLES = (VIEWER, REVIEWER, BUDGET_APPROVER)


def grant(apps: Any, app_label: str, grants: dict[str, list[str]]) -> None:
    """Give each role the listed permission codenames of `app_label` (idempotent)."""
    # Permissions are normally created after all migrations ran (post_migrate); a fresh
    # database has none yet, so create this app's now.
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codenames in grants.items():
        group, _ = group_model.objects.get_or_create(name=role)
        permissions = permission_model.objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise LookupError(f"unknown permissions of {app_label}: {sorted(missing)}")
        group.permissions.add(*permissions)
