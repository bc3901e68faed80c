from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse


@pytest.mark.django_db
def test_every_admin_list_and_change_page_loads(admin_client, imported):
    imported("inventory-service")
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("execution", "acceptance"):
            continue
        meta = model._meta
        changelist = admin_client.get(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        )
        assert changelist.status_code == 200, meta.label
        if model_admin.search_fields:
            assert (
                admin_client.get(changelist.wsgi_request.path, {"q": "inventory"}).status_code
                == 200
            )
        instance = model.objects.first()
        assert instance is not None, meta.label
        change = admin_client.get(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[instance.pk])
        )
        assert change.status_code == 200, meta.label


@pytest.mark.django_db
def test_roles_exist_with_their_permissions():
    from django.contrib.auth.models import Group

    def codenames(role):
        return set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))

    assert "view_requirement" in codenames("viewer")
    assert not {"add_masterplan", "run_masterplan"} & codenames("viewer")
    assert {"add_masterplan", "run_masterplan", "run_acceptance_tests"} <= codenames("reviewer")
    assert "override_budget" in codenames("budget_approver")
    assert "override_budget" not in codenames("reviewer")
