from django.db import migrations

from execution.roles import ROLES, grant


def grant_requirement_views(apps, schema_editor):
    grant(apps, "acceptance", {role: ["view_requirement"] for role in ROLES})


class Migration(migrations.Migration):
    dependencies = [
        ("acceptance", "0001_initial"),
        ("execution", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_requirement_views, migrations.RunPython.noop)]
