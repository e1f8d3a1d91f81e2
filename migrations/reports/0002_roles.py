"""Report permissions for the roles created in migrations/core/0002_roles.py."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_report", "view_reporttransition", "view_findingcomment", "view_reportimpact"]
PERMISSIONS = {
    "Compliance officer": VIEW + ["generate_report", "approve_report"],
    "Auditor": VIEW + ["review_report"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("reports")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in PERMISSIONS.items():
        permissions = Permission.objects.filter(content_type__app_label="reports", codename__in=codenames)
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"permissions missing for {role}: {sorted(missing)}")
        Group.objects.get(name=role).permissions.add(*permissions)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for role in PERMISSIONS:
        group = apps.get_model("auth", "Group").objects.get(name=role)
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="reports"))


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("core", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
