from django.db import migrations

GENESIS_HASH = "0" * 64

SQLITE_FORWARD = """
CREATE TRIGGER consent_event_append_only
BEFORE UPDATE ON consent_consentevent
BEGIN
    SELECT RAISE(ABORT, 'consent events are append-only');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS consent_event_append_only;"

POSTGRES_FORWARD = """
CREATE FUNCTION consent_event_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consent events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_event_append_only
BEFORE UPDATE ON consent_consentevent
FOR EACH ROW EXECUTE FUNCTION consent_event_refuse_update();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;
DROP FUNCTION IF EXISTS consent_event_refuse_update();
"""


def create_head(apps, schema_editor):
    apps.get_model("consent", "LedgerHead").objects.create(id=1, sequence=0, hash=GENESIS_HASH)


def add_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(SQLITE_FORWARD if vendor == "sqlite" else POSTGRES_FORWARD)


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(SQLITE_BACKWARD if vendor == "sqlite" else POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [
        migrations.RunPython(create_head, migrations.RunPython.noop),
        # The database itself refuses edits of the ledger, whatever code or admin runs against it.
        migrations.RunPython(add_trigger, drop_trigger),
    ]
