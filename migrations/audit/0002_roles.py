"""Audit permissions for the roles created in migrations/core/0002_roles.py."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_auditpolicy", "view_auditrun", "view_auditruntransition", "view_groupresult", "view_gapresult"]
PERMISSIONS = {
    "Compliance officer": VIEW + ["define_policy", "start_audit_run"],
    "Auditor": VIEW,
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("audit")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in PERMISSIONS.items():
        permissions = Permission.objects.filter(content_type__app_label="audit", codename__in=codenames)
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"permissions missing for {role}: {sorted(missing)}")
        Group.objects.get(name=role).permissions.add(*permissions)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for role in PERMISSIONS:
        group = apps.get_model("auth", "Group").objects.get(name=role)
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="audit"))


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("core", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
