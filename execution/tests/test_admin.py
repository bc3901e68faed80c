from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse


@pytest.mark.django_db
def test_every_admin_list_and_change_page_loads(admin_client, imported):
    from django.utils import timezone

    from acceptance.models import AcceptanceTest, TestResult, TestRun
    from execution.models import WaveCheck

    masterplan = imported("inventory-service")
    requirement = masterplan.requirements.first()
    test = AcceptanceTest.objects.create(
        masterplan=masterplan, requirement=requirement, framework="pytest", generated_by="llm",
        file_path="tests/acceptance/test_r01.py", code="def test_it():\n    assert True\n",
    )  # fmt: skip
    run = TestRun.objects.create(masterplan=masterplan, status="finished", isolation="bwrap")
    TestResult.objects.create(run=run, test=test, status="passed")
    WaveCheck.objects.create(
        masterplan=masterplan, wave=masterplan.waves.first(), check_name="acceptance",
        state="undecided", reason="The acceptance run refused: no sandbox.",
        queued_at=timezone.now(),
    )  # fmt: skip
    from precision.scoring import take_snapshot
    from precision.validation import validate

    workspace = Path(masterplan.workspace_path)
    workspace.mkdir(parents=True)
    (workspace / "stray.py").write_text("import os\n")
    take_snapshot(masterplan, run=validate(masterplan, (1,)))
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("execution", "acceptance", "precision"):
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
        instance = model._default_manager.first()
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
    assert {"view_validationrun", "view_precisionsnapshot"} <= codenames("viewer")
    assert not {"add_masterplan", "run_masterplan"} & codenames("viewer")
    assert {"add_masterplan", "run_masterplan", "run_acceptance_tests"} <= codenames("reviewer")
    assert "override_budget" in codenames("budget_approver")
    assert "override_budget" not in codenames("reviewer")


@pytest.mark.django_db
def test_plans_cannot_be_typed_into_the_admin(admin_client):
    # The import validates paths and dependencies and plans waves; admin forms would not.
    for name in ["masterplan", "phase", "milestone", "task", "atom", "wave"]:
        assert admin_client.get(reverse(f"admin:execution_{name}_add")).status_code == 403
    assert admin_client.get(reverse("admin:acceptance_requirement_add")).status_code == 403


@pytest.mark.django_db
def test_an_operator_edits_caps_and_the_database_keeps_them_consistent(admin_client, imported):
    masterplan = imported("slugkit")
    url = reverse("admin:execution_masterplan_change", args=[masterplan.pk])
    form = {
        "name": masterplan.name,
        "summary": masterplan.summary,
        "description": masterplan.description,
        "status": masterplan.status,
        "budget_soft_cap_usd": "9",
        "budget_hard_cap_usd": "5",
        "default_model": "",
        "options": "{}",
        "phases-TOTAL_FORMS": "0",
        "phases-INITIAL_FORMS": "0",
        "waves-TOTAL_FORMS": "0",
        "waves-INITIAL_FORMS": "0",
    }
    refused = admin_client.post(url, form)
    assert refused.status_code == 200
    assert "The soft cap must not exceed the hard cap." in refused.content.decode()
    masterplan.refresh_from_db()
    assert masterplan.budget_soft_cap_usd == 3.5

    accepted = admin_client.post(url, {**form, "budget_soft_cap_usd": "4"})
    assert accepted.status_code == 302
    masterplan.refresh_from_db()
    assert masterplan.budget_soft_cap_usd == 4


@pytest.mark.django_db
def test_an_operator_reads_a_checks_verdict_but_cannot_edit_or_delete_it(admin_client, imported):
    from django.utils import timezone

    from execution.models import WaveCheck

    masterplan = imported("slugkit")
    row = WaveCheck.objects.create(
        masterplan=masterplan, wave=masterplan.waves.first(), check_name="acceptance",
        state="undecided", reason="The acceptance run refused: no sandbox.",
        queued_at=timezone.now(),
    )  # fmt: skip
    page = admin_client.get(reverse("admin:execution_wavecheck_change", args=[row.pk]))
    assert "The acceptance run refused: no sandbox." in page.content.decode()
    assert 'name="state"' not in page.content.decode()  # shown, not a form field
    delete = admin_client.post(reverse("admin:execution_wavecheck_delete", args=[row.pk]))
    assert delete.status_code == 403
    assert WaveCheck.objects.filter(pk=row.pk).exists()
