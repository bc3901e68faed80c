from django.db import migrations

from execution.roles import BUDGET_APPROVER, REVIEWER, VIEWER, grant

VIEW = [
    "view_masterplan",
    "view_phase",
    "view_milestone",
    "view_task",
    "view_atom",
    "view_atomdependency",
    "view_wave",
]


def create_roles(apps, schema_editor):
    grant(
        apps,
        "execution",
        {
            VIEWER: VIEW,
            REVIEWER: VIEW
            + ["add_masterplan", "delete_masterplan", "run_masterplan", "run_acceptance_tests"],
            BUDGET_APPROVER: VIEW + ["override_budget"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
