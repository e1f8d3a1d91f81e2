"""The database refuses every change to the ledger but an append; on PostgreSQL the app's role may not try.

0002 made the database refuse UPDATE of a consent event. This adds, on SQLite and PostgreSQL:

- consent events: DELETE refused (and, on PostgreSQL, TRUNCATE, by a statement-level trigger);
- the ledger head: DELETE refused (TRUNCATE too), and an UPDATE only moves it forward: to a higher
  sequence, or to the same sequence with the same hash. So "set the head back to the new last
  event" after removing events is refused as well, while `consent.ledger.append` keeps working.

A role with DDL rights on the tables can still drop or disable the triggers (the owner on
PostgreSQL, anyone on SQLite): signed checkpoints outside the database (consent/checkpoints.py)
catch what such a role does. On PostgreSQL the application therefore runs as a second role
(settings.DATABASE_APP_ROLE) that owns nothing. This migration, run as the owner, grants it:

- SELECT and INSERT on consent_consentevent, nothing else (no UPDATE, DELETE, TRUNCATE; ALTER and
  DROP need ownership, so DISABLE TRIGGER is refused to it too);
- SELECT and UPDATE on consent_ledgerhead (append locks and moves it);
- SELECT on django_migrations;
- SELECT, INSERT, UPDATE, DELETE on every other table and USAGE, SELECT on every sequence, now and
  (ALTER DEFAULT PRIVILEGES) on those the owner's later migrations create.

With no DATABASE_APP_ROLE (SQLite, or a single-role PostgreSQL) it grants nothing.

The test suite flushes the tables between transactional tests; tests/conftest.py suspends these
triggers for that flush only (see `flush_past_the_append_only_triggers` there).
"""

from django.conf import settings
from django.db import migrations

GENESIS_HASH = "0" * 64

SQLITE_FORWARD = [
    """
    CREATE TRIGGER consent_event_refuse_delete
    BEFORE DELETE ON consent_consentevent
    BEGIN
        SELECT RAISE(ABORT, 'consent events are append-only: DELETE refused');
    END;
    """,
    """
    CREATE TRIGGER consent_ledgerhead_refuse_delete
    BEFORE DELETE ON consent_ledgerhead
    BEGIN
        SELECT RAISE(ABORT, 'the ledger head is append-only: DELETE refused');
    END;
    """,
    """
    CREATE TRIGGER consent_ledgerhead_forward_only
    BEFORE UPDATE ON consent_ledgerhead
    WHEN NEW.id IS NOT OLD.id
        OR NEW.sequence < OLD.sequence
        OR (NEW.sequence = OLD.sequence AND NEW.hash IS NOT OLD.hash)
    BEGIN
        SELECT RAISE(ABORT, 'the ledger head is append-only: it only moves forward');
    END;
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS consent_ledgerhead_forward_only;",
    "DROP TRIGGER IF EXISTS consent_ledgerhead_refuse_delete;",
    "DROP TRIGGER IF EXISTS consent_event_refuse_delete;",
]

POSTGRES_FORWARD = [
    """
    CREATE FUNCTION consent_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER consent_event_refuse_delete
    BEFORE DELETE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();
    """,
    """
    CREATE TRIGGER consent_event_refuse_truncate
    BEFORE TRUNCATE ON consent_consentevent
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change();
    """,
    """
    CREATE TRIGGER consent_ledgerhead_refuse_delete
    BEFORE DELETE ON consent_ledgerhead
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();
    """,
    """
    CREATE TRIGGER consent_ledgerhead_refuse_truncate
    BEFORE TRUNCATE ON consent_ledgerhead
    FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change();
    """,
    """
    CREATE FUNCTION consent_ledgerhead_forward_only() RETURNS trigger AS $$
    BEGIN
        IF NEW.id IS DISTINCT FROM OLD.id
           OR NEW.sequence < OLD.sequence
           OR (NEW.sequence = OLD.sequence AND NEW.hash IS DISTINCT FROM OLD.hash) THEN
            RAISE EXCEPTION 'the ledger head is append-only: it only moves forward'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER consent_ledgerhead_forward_only
    BEFORE UPDATE ON consent_ledgerhead
    FOR EACH ROW EXECUTE FUNCTION consent_ledgerhead_forward_only();
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS consent_ledgerhead_forward_only ON consent_ledgerhead;",
    "DROP FUNCTION IF EXISTS consent_ledgerhead_forward_only();",
    "DROP TRIGGER IF EXISTS consent_ledgerhead_refuse_truncate ON consent_ledgerhead;",
    "DROP TRIGGER IF EXISTS consent_ledgerhead_refuse_delete ON consent_ledgerhead;",
    "DROP TRIGGER IF EXISTS consent_event_refuse_truncate ON consent_consentevent;",
    "DROP TRIGGER IF EXISTS consent_event_refuse_delete ON consent_consentevent;",
    "DROP FUNCTION IF EXISTS consent_refuse_change();",
]

APP_ROLE_GRANTS = [
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    "REVOKE ALL ON consent_consentevent FROM {role}",
    "GRANT SELECT, INSERT ON consent_consentevent TO {role}",
    "REVOKE ALL ON consent_ledgerhead FROM {role}",
    "GRANT SELECT, UPDATE ON consent_ledgerhead TO {role}",
    "REVOKE ALL ON django_migrations FROM {role}",
    "GRANT SELECT ON django_migrations TO {role}",
]
APP_ROLE_REVOKES = [
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {role}",
    "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
    "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement, params=None)  # no parameters: the % in RAISE stays as written


def add_triggers(apps, schema_editor):
    _run(schema_editor, SQLITE_FORWARD if schema_editor.connection.vendor == "sqlite" else POSTGRES_FORWARD)


def drop_triggers(apps, schema_editor):
    _run(schema_editor, SQLITE_BACKWARD if schema_editor.connection.vendor == "sqlite" else POSTGRES_BACKWARD)


def _app_role(schema_editor) -> tuple[str, str] | None:
    """(quoted role, quoted schema), or None when there is no separate application role to grant."""
    connection = schema_editor.connection
    role = getattr(settings, "DATABASE_APP_ROLE", "")
    if connection.vendor != "postgresql" or not role:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        current_user, schema = cursor.fetchone()
    if role == current_user:
        return None  # a single-role setup: the owner keeps its rights, the triggers still refuse
    quote = connection.ops.quote_name
    return quote(role), quote(schema)


def grant_app_role(apps, schema_editor):
    names = _app_role(schema_editor)
    if names:
        role, schema = names
        _run(schema_editor, [s.format(role=role, schema=schema) for s in APP_ROLE_GRANTS])


def revoke_app_role(apps, schema_editor):
    names = _app_role(schema_editor)
    if names:
        role, schema = names
        _run(schema_editor, [s.format(role=role, schema=schema) for s in APP_ROLE_REVOKES])


class Migration(migrations.Migration):
    dependencies = [("consent", "0003_item_image_index")]

    operations = [
        migrations.RunPython(add_triggers, drop_triggers),
        migrations.RunPython(grant_app_role, revoke_app_role),
    ]
