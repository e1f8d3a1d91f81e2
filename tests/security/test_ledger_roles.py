"""On PostgreSQL the application's role may only SELECT and INSERT the consent ledger (issue 13, part 1).

The suite runs as the owner, which creates the test database and migrates it; the migrations grant
DATABASE_APP_ROLE its rights there. These tests connect to the test database as that role, with the
credentials in TEST_APP_ROLE_DATABASE_URL (.ci/run sets both). SQLite has no roles: there the
triggers are the only guard (tests/security/test_ledger_tamper.py), with the signed checkpoints
behind them.
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from consent import ledger, services
from consent.models import ConsentEvent, LedgerHead
from consent.rules.ledger import GENESIS_HASH
from core.audit_log import Actor
from tests.conftest import at

APP_URL = os.environ.get("TEST_APP_ROLE_DATABASE_URL", "")


def needs_the_app_role(test):
    test = pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite has no roles; on SQLite only the triggers guard the ledger"
    )(test)
    return pytest.mark.skipif(
        not APP_URL,
        reason="TEST_APP_ROLE_DATABASE_URL is not set: run the PostgreSQL suite with the two roles, as .ci/run does",
    )(test)


EVENT_COLUMNS = (
    "sequence, event_id, subject_id, kind, purposes, purpose_mask, channel, collected_at, recorded_at, "
    "evidence_hash, age_rule_version, personal_digest, prev_hash, hash"
)


@pytest.fixture
def as_app(db):
    """A connection to the test database as the application's role, in a transaction rolled back at the end.

    It holds one subject and one consent event of its own, inserted as that role.
    """
    role = conninfo_to_dict(APP_URL)["user"]
    assert role == settings.DATABASE_APP_ROLE, "DATABASE_APP_ROLE must name the role of TEST_APP_ROLE_DATABASE_URL"
    conninfo = make_conninfo(APP_URL, dbname=connection.settings_dict["NAME"], connect_timeout=10)
    with psycopg.connect(conninfo) as app:
        app.execute("SET lock_timeout = '10s'")
        subject_id = app.execute(
            "INSERT INTO consent_subject (key, reference, jurisdiction, salt, created_at) "
            "VALUES (gen_random_uuid(), 'APP-ROLE-1', 'DE', 'salt', now()) RETURNING id"
        ).fetchone()[0]
        app.execute(
            f"INSERT INTO consent_consentevent ({EVENT_COLUMNS}) "  # noqa: S608
            "VALUES (1, 'APP-EV-1', %s, 'grant', '[\"evaluation\"]', 2, 'web_form', now(), now(), '', '', "
            "'d', %s, 'h')",
            [subject_id, GENESIS_HASH],
        )
        yield app
        app.rollback()


def refused(app, sql: str) -> str:
    """Run `sql` as the app's role in a savepoint; the error message, or fail when it was not refused."""
    try:
        with app.transaction():
            app.execute(sql)
    except psycopg.errors.InsufficientPrivilege as exc:
        return str(exc)
    pytest.fail(f"the app's role was allowed: {sql}")


FORBIDDEN = {
    "UPDATE": ("UPDATE consent_consentevent SET channel = 'email'", "permission denied for table consent_consentevent"),
    "DELETE": ("DELETE FROM consent_consentevent", "permission denied for table consent_consentevent"),
    "TRUNCATE": ("TRUNCATE consent_consentevent CASCADE", "permission denied for table consent_consentevent"),
    "ALTER TABLE ... DISABLE TRIGGER": (
        "ALTER TABLE consent_consentevent DISABLE TRIGGER USER",
        "must be owner of table consent_consentevent",
    ),
    "DROP TRIGGER": (
        "DROP TRIGGER consent_event_refuse_delete ON consent_consentevent",
        "must be owner of relation consent_consentevent",
    ),
    "DROP TABLE": ("DROP TABLE consent_consentevent CASCADE", "must be owner of table consent_consentevent"),
    "ALTER TABLE ... OWNER": (
        "ALTER TABLE consent_consentevent OWNER TO CURRENT_USER",
        "must be owner of table consent_consentevent",
    ),
    "session_replication_role (skips triggers)": (
        "SET session_replication_role = replica",
        'permission denied to set parameter "session_replication_role"',
    ),
    "DELETE the ledger head": ("DELETE FROM consent_ledgerhead", "permission denied for table consent_ledgerhead"),
    "INSERT a second head": (
        f"INSERT INTO consent_ledgerhead (id, sequence, hash) VALUES (2, 0, '{GENESIS_HASH}')",  # noqa: S608
        "permission denied for table consent_ledgerhead",
    ),
    "TRUNCATE the ledger head": ("TRUNCATE consent_ledgerhead", "permission denied for table consent_ledgerhead"),
    "CREATE TABLE": ("CREATE TABLE shadow_ledger (id int)", "permission denied for schema public"),
}


@needs_the_app_role
@pytest.mark.parametrize("statement", FORBIDDEN)
def test_it_refuses_the_app_role_to_change_the_ledger(as_app, statement):
    sql, message = FORBIDDEN[statement]
    assert message in refused(as_app, sql)
    assert as_app.execute("SELECT count(*) FROM consent_consentevent WHERE event_id = 'APP-EV-1'").fetchone() == (1,)


@needs_the_app_role
def test_the_app_role_selects_and_inserts_events(as_app):
    assert as_app.execute("SELECT event_id, kind FROM consent_consentevent").fetchall() == [("APP-EV-1", "grant")]
    assert as_app.execute("SELECT has_table_privilege('consent_consentevent', 'INSERT')").fetchone() == (True,)


@needs_the_app_role
def test_the_app_role_keeps_the_usual_rights_on_the_other_tables(as_app):
    as_app.execute("UPDATE consent_subject SET jurisdiction = 'FR' WHERE reference = 'APP-ROLE-1'")
    as_app.execute("INSERT INTO consent_notice (version, language, title, text, text_hash, purposes, published_at, created_at) "
                   "VALUES ('9', 'en', 't', 't', '', '[]', now(), now())")  # fmt: skip
    as_app.execute("DELETE FROM consent_notice WHERE version = '9'")
    assert as_app.execute("SELECT jurisdiction FROM consent_subject WHERE reference = 'APP-ROLE-1'").fetchone() == (
        "FR",
    )


@needs_the_app_role
def test_the_app_role_moves_the_ledger_head_forward_but_not_back(as_app):
    as_app.execute("SELECT * FROM consent_ledgerhead FOR UPDATE")  # what every append does first
    as_app.execute("UPDATE consent_ledgerhead SET sequence = 1, hash = 'h'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only moves forward"), as_app.transaction():
        as_app.execute("UPDATE consent_ledgerhead SET sequence = 0, hash = %s", [GENESIS_HASH])


@needs_the_app_role
def test_the_app_role_may_read_but_not_fake_the_migrations(as_app):
    assert as_app.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0
    assert "permission denied" in refused(as_app, "DELETE FROM django_migrations")


@needs_the_app_role
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_application_records_consent_as_the_app_role(notice, make_subject):
    """The whole write path (locking the head, COPY, the audit log, erasure) needs no more than these rights."""
    app = conninfo_to_dict(APP_URL)
    owner = {key: connection.settings_dict[key] for key in ("USER", "PASSWORD")}
    actor = Actor.system("test")
    subject = make_subject("APP-ROLE-2")  # as the owner: the fixtures' data, committed
    connection.close()
    connection.settings_dict.update(USER=app["user"], PASSWORD=app.get("password", ""))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (app["user"],)
        services.grant_consent(actor=actor, subject=subject, purposes=["evaluation"], notice=notice,
                               channel="web_form", collected_at=at(2025, 3))  # fmt: skip
        services.withdraw_consent(actor=actor, subject=subject, channel="email", collected_at=at(2025, 4))
        services.erase_subject(actor=actor, subject=subject, channel="email", collected_at=at(2025, 5))
        assert ConsentEvent.objects.count() == 3
        assert LedgerHead.objects.get().sequence == 3
        assert ledger.verify().ok
    finally:
        connection.close()
        connection.settings_dict.update(owner)


# Which role connects ---------------------------------------------------------------------------------


def settings_as(argv: list[str], **environment) -> str:
    """DATABASES["default"]'s user and DATABASE_APP_ROLE as a fresh process started with `argv` sees them,
    or the error its settings stop with."""
    code = (
        f"import sys; sys.argv = {argv!r}; import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['USER'], settings.DATABASE_APP_ROLE or '-')"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_APP_ROLE", "MIGRATION_DATABASE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **environment)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    if result.returncode:
        return result.stderr.strip().splitlines()[-1]
    return result.stdout.strip()


TWO_ROLES = {
    "DATABASE_URL": "postgres://bias_audit_app:a@db.internal:5432/bias_audit",
    "MIGRATION_DATABASE_URL": "postgres://bias_audit:o@db.internal:5432/bias_audit",
}


def test_migrate_connects_as_the_owner_and_everything_else_as_the_app_role():
    assert settings_as(["manage.py", "migrate"], **TWO_ROLES) == "bias_audit bias_audit_app"
    assert settings_as(["manage.py", "runserver"], **TWO_ROLES) == "bias_audit_app bias_audit_app"
    assert settings_as(["manage.py", "db_worker"], **TWO_ROLES, DATABASE_APP_ROLE="app2") == "bias_audit_app app2"


def test_one_database_url_is_one_role_for_everything():
    url = {"DATABASE_URL": "postgres://bias_audit:o@db.internal:5432/bias_audit"}
    assert settings_as(["manage.py", "migrate"], **url) == "bias_audit -"


def test_it_refuses_a_migration_url_for_another_database():
    other = {**TWO_ROLES, "MIGRATION_DATABASE_URL": "postgres://bias_audit:o@db.internal:5432/other"}
    assert "must name the same database, host and port as DATABASE_URL" in settings_as(
        ["manage.py", "migrate"], **other
    )


def test_it_refuses_a_migration_url_on_sqlite():
    sqlite = {"DATABASE_URL": "sqlite:///tmp/x.sqlite3", "MIGRATION_DATABASE_URL": TWO_ROLES["MIGRATION_DATABASE_URL"]}
    assert "MIGRATION_DATABASE_URL is for PostgreSQL; SQLite has no roles" in settings_as(["manage.py", "migrate"],
                                                                                         **sqlite)  # fmt: skip
