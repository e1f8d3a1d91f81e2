from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

from consent import services
from core.audit_log import Actor

MONK_SCHEMA = {
    "skin_tone": {
        "label": "Monk skin tone scale",
        "values": [str(v) for v in range(1, 11)],
        "ordinal": True,
        "bandings": {"monk_3": {"light": ["1", "2", "3"], "medium": ["4", "5", "6", "7"], "dark": ["8", "9", "10"]}},
    },
    "sex": {"values": ["female", "male"]},
}


FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL, no autovacuum on the test database's tables.

    Tests roll their rows back, so a table's committed state is empty but full of dead rows. When
    autovacuum clears it while a test holds locks, it cannot shrink the file and records "no rows"
    over many pages; the planner then treats every table as empty for the rest of the session, and
    a query over a test's own thousands of rows runs in nested loops for hours (CI did).
    """
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"ALTER TABLE {connection.ops.quote_name(table)} SET (autovacuum_enabled = false)")


@pytest.fixture(scope="session", autouse=True)
def flush_past_the_append_only_triggers():
    """Let the flush between transactional tests empty the ledger, which the database otherwise refuses.

    The ledger's triggers (migrations/consent/0002 and 0004) refuse DELETE, and on PostgreSQL TRUNCATE, of
    consent events and of the ledger head, also to the tables' owner; so the `flush` that TransactionTestCase
    (transaction=True, live_server, the browser tests) runs after each test would fail. For the test suite
    only, the SQL of Django's flush command is wrapped so that, in the flush's one transaction, the triggers
    are suspended before the tables are emptied and restored after: on SQLite dropped and re-created from
    their own stored SQL (sqlite_master), on PostgreSQL disabled and enabled again, which needs the tables'
    owner (the role the suite runs as; the application's role could not: tests/security/test_ledger_roles.py).
    If the flush fails, the transaction rolls back with the triggers in place. Outside the tests, `manage.py
    flush` stays refused, as it should be for evidence.
    """
    from django.core.management.commands import flush

    plain_sql_flush = flush.sql_flush

    def sql_flush(style, connection, **options):
        statements = plain_sql_flush(style, connection, **options)
        if not statements:
            return statements
        suspend, restore = trigger_suspension(connection)
        return [*suspend, *statements, *restore]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flush, "sql_flush", sql_flush)
        yield


def trigger_suspension(connection) -> tuple[list[str], list[str]]:
    """SQL that suspends every enabled user trigger in the database, and SQL that restores them."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
            triggers = cursor.fetchall()
            return [f"DROP TRIGGER {quote(name)}" for name, _ in triggers], [sql for _, sql in triggers]
        cursor.execute(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relnamespace = current_schema()::regnamespace "
            "ORDER BY c.relname, t.tgname"
        )
        triggers = cursor.fetchall()
    return (
        # ALTER TABLE refuses a table with deferred foreign-key checks pending: run them first.
        ["SET CONSTRAINTS ALL IMMEDIATE"]
        + [f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(name)}" for name, table in triggers],
        [f"ALTER TABLE {quote(table)} ENABLE TRIGGER {quote(name)}" for name, table in triggers],
    )


def file_settings(root: Path) -> dict:
    """Where item files, derived files (feature Parquet, scores, reports) and the signing key go."""
    return {
        "MEDIA_ROOT": root / "media",
        "ARTIFACT_ROOT": root / "artifacts",
        "REPORT_SIGNING_KEY": root / "signing" / "key.pem",
        "REPORT_SIGNING_CERT": root / "signing" / "cert.pem",
        "LEDGER_CHECKPOINT_DIR": root / "ledger-checkpoints",
    }


@pytest.fixture(autouse=True)
def file_roots(settings, tmp_path):
    """Every test writes item files and feature Parquet into its own folders."""
    for name, value in file_settings(tmp_path).items():
        setattr(settings, name, value)
    return settings


@contextmanager
def module_file_roots(tmp_path_factory, name: str):
    """One set of folders for a module whose data is built once (its own `file_roots` fixture yields
    this), with the fast password hasher for the users its tests sign up."""
    root = tmp_path_factory.mktemp(name)
    with override_settings(**file_settings(root), PASSWORD_HASHERS=FAST_PASSWORD_HASHERS):
        yield root


@pytest.fixture
def actor():
    return Actor.system("test")


@pytest.fixture
def notice(db, actor):
    return services.publish_notice(
        actor=actor,
        version="1",
        language="en",
        title="Research consent",
        text="We use your photo to check that our model treats everyone alike.",
        purposes=["training", "evaluation", "bias_audit"],
        published_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
def make_subject(db, actor):
    counter = iter(range(1, 10_000))

    def make(reference=None, *, jurisdiction="DE", birth_month=date(1985, 6, 1)):
        return services.register_subject(
            actor=actor,
            reference=reference or f"SUBJ-{next(counter):05d}",
            jurisdiction=jurisdiction,
            birth_month=birth_month,
        )

    return make


@pytest.fixture
def subject(make_subject):
    return make_subject("SUBJ-ADULT")


@pytest.fixture
def dataset(db, actor):
    schema = services.register_attribute_schema(actor=actor, name="faces", version="1", definition=MONK_SCHEMA)
    dataset = services.register_dataset(
        actor=actor,
        name="faces",
        version="2026.1",
        attribute_schema=schema,
        motivation="Check the face model for skin-tone bias.",
        collection_process="Volunteers photographed in studio conditions.",
        known_limitations="Few subjects over 70.",
    )
    for name, licence, status in [
        ("studio", "NOASSERTION", "owned"),
        ("partner", "CC-BY-4.0", "licensed"),
        ("scraped", "NOASSERTION", "disputed"),
    ]:
        services.add_source(
            actor=actor,
            dataset=dataset,
            name=name,
            origin=f"{name} collection",
            licence=licence,
            copyright_status=status,
            collection_start=date(2024, 1, 1),
        )
    return dataset


def at(year, month=1, day=1, hour=0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# Web and API: one user per role, plus one with no role at all. ------------------------------------

ROLE_GROUPS = {"steward": "Data steward", "officer": "Compliance officer", "auditor": "Auditor", "nobody": None}


@pytest.fixture
def role_user(db, django_user_model):
    """role_user("steward") -> a user in that role (created once per test)."""
    from django.contrib.auth.models import Group

    made = {}

    def make(role: str):
        if role not in made:
            user = django_user_model.objects.create_user(f"web-{role}", password="correct horse battery")
            if ROLE_GROUPS[role]:
                user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
            made[role] = user
        return made[role]

    return make


@pytest.fixture
def client_as(role_user):
    """client_as("auditor") -> a test client signed in as that role; client_as(None) -> signed out."""
    from django.test import Client

    def make(role: str | None):
        client = Client()
        if role is not None:
            client.force_login(role_user(role))
        return client

    return make


@pytest.fixture
def api_as(role_user):
    """api_as("steward") -> a test client that sends that role's API token; api_as(None) -> no token."""
    from django.test import Client

    from core.audit_log import Actor
    from core.tokens import issue_api_token

    def make(role: str | None):
        if role is None:
            return Client()
        user = role_user(role)
        _, key = issue_api_token(actor=Actor.of_user(user), user=user, name="tests")
        return Client(headers={"Authorization": f"Bearer {key}"})

    return make


def pytest_collection_modifyitems(items):
    """Every test outside a wrapping transaction must restore the migrations' data (roles, the ledger head).

    A flush after one that does not re-creates content types with new keys, and the next serialized
    restore then fails; so the rule holds for all of them, and this check says so by name.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        transactional = "transactional_db" in item.fixturenames or "live_server" in item.fixturenames or (
            marker is not None and marker.kwargs.get("transaction")
        )
        serialized = "django_db_serialized_rollback" in item.fixturenames or (
            marker is not None and marker.kwargs.get("serialized_rollback")
        )
        if transactional and not serialized:
            raise pytest.UsageError(f"{item.nodeid}: a transactional test needs serialized_rollback=True")


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Users in tests need a password, not a slow one (PBKDF2 costs half a second per user)."""
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS
