"""The three roles as groups, with the permissions each needs.

Later apps add their own permissions to these groups in their own migrations.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

DATA_STEWARD = "Data steward"
COMPLIANCE_OFFICER = "Compliance officer"
AUDITOR = "Auditor"

CONSENT_VIEW = [
    "view_subject", "view_notice", "view_consentevent", "view_importbatch", "view_attributeschema",
    "view_dataset", "view_source", "view_dataitem", "view_featurefile", "view_guardianconsent",
]  # fmt: skip

PERMISSIONS = {
    DATA_STEWARD: CONSENT_VIEW
    + [
        "add_subject", "add_notice", "add_consentevent", "withdraw_consent", "erase_subject",
        "import_consent", "export_receipt", "add_attributeschema", "add_dataset", "add_source",
        "import_items", "view_protected_attributes",
    ],  # fmt: skip
    COMPLIANCE_OFFICER: CONSENT_VIEW + ["view_protected_attributes", "export_receipt"],
    AUDITOR: CONSENT_VIEW + ["view_auditlogentry"],
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = Permission.objects.filter(
            content_type__app_label__in=["consent", "core"], codename__in=codenames
        )
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"permissions missing for {role}: {sorted(missing)}")
        group.permissions.add(*permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("consent", "0002_ledger_head_and_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
