from django.db import migrations

from execution.roles import ROLES, grant


def grant_views(apps, schema_editor):
    views = ["view_validationrun", "view_validationcheck", "view_precisionsnapshot"]
    grant(apps, "precision", {role: views for role in ROLES})


class Migration(migrations.Migration):
    dependencies = [
        ("precision", "0001_initial"),
        ("execution", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_views, migrations.RunPython.noop)]
