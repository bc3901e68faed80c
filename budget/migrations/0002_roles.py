from django.db import migrations

from execution.roles import BUDGET_APPROVER, ROLES, grant

VIEW = ["view_costentry", "view_budgetalert", "view_budgetoverride"]


def grant_budget_views(apps, schema_editor):
    grant(apps, "budget", {role: VIEW for role in ROLES if role != BUDGET_APPROVER})
    grant(apps, "budget", {BUDGET_APPROVER: [*VIEW, "add_budgetoverride"]})


class Migration(migrations.Migration):
    dependencies = [
        ("budget", "0001_initial"),
        ("execution", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_budget_views, migrations.RunPython.noop)]
