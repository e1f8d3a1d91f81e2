"""`import_consent --sql-url ... --query ...` runs one SELECT, in a read-only transaction, and cannot write.

Two independent guards: the statement check refuses anything but a single SELECT, and the connection is
read-only (SQLite: PRAGMA query_only; PostgreSQL: read-only session and transaction), so a write the check
cannot see (a data-modifying CTE on PostgreSQL) is refused by the database.
"""

import io
import sqlite3
import uuid

import pytest
import sqlalchemy
from django.core.management import CommandError, call_command
from django.db import connection
from sqlalchemy.engine import URL

from consent.errors import ImportFailed
from consent.importing import readers
from consent.models import ConsentEvent, ImportBatch

COLUMNS = "event_id, subject, jurisdiction, birth_month, kind, purposes, notice_version, channel, collected_at"
ROW = ("SQL-1", "SUBJ-SQL-1", "DE", "1980-02", "grant", "evaluation", "1", "web_form", "2025-02-01")


@pytest.fixture
def source(tmp_path):
    """A SQLite source with the consent rows and a table called victim."""
    path = tmp_path / "source.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE consents ({COLUMNS})")
        db.execute("INSERT INTO consents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROW)
        db.execute("CREATE TABLE victim (id INTEGER)")
        db.executemany("INSERT INTO victim VALUES (?)", [(1,), (2,), (3,)])
    db.close()
    return path


def victim_rows(path) -> list:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id FROM victim ORDER BY id").fetchall()
    db.close()
    return rows


def refused_by_command(url: str, query: str) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_consent", sql_url=url, query=query, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DROP TABLE victim", readers.NOT_A_SELECT.format(kind="a DROP")),
        ("DELETE FROM victim", readers.NOT_A_SELECT.format(kind="a DELETE")),
        ("WITH x AS (SELECT 1) INSERT INTO victim SELECT * FROM x", readers.NOT_A_SELECT.format(kind="an INSERT")),
        ("SELECT * FROM victim; DROP TABLE victim", readers.ONE_STATEMENT.format(count=2)),
        ("PRAGMA query_only = OFF", readers.NOT_A_SELECT.format(kind="not a statement we recognise")),
        ("-- nothing but a comment", readers.ONE_STATEMENT.format(count=0)),
    ],
)
def test_it_refuses_anything_but_a_single_select_and_the_source_is_untouched(db, source, query, message):
    assert refused_by_command(f"sqlite:///{source}", query) == f"file: {message}\n"
    assert victim_rows(source) == [(1,), (2,), (3,)]
    assert not ImportBatch.objects.exists()


def test_a_select_with_a_cte_that_only_reads_is_imported(notice, source):
    query = f"WITH recent AS (SELECT * FROM consents WHERE collected_at >= '2025-01-01') SELECT {COLUMNS} FROM recent"  # noqa: S608
    call_command("import_consent", sql_url=f"sqlite:///{source}", query=query, stdout=io.StringIO())
    assert list(ConsentEvent.objects.values_list("event_id", flat=True)) == ["SQL-1"]


def test_with_the_statement_check_off_the_read_only_connection_still_refuses_a_write(db, source, monkeypatch):
    monkeypatch.setattr(readers, "check_select", lambda query: None)
    for query in ("DELETE FROM victim", "DROP TABLE victim", "CREATE TABLE planted (id INTEGER)"):
        with pytest.raises(ImportFailed) as refused:
            readers.read_sql(f"sqlite:///{source}", query)
        assert str(refused.value.problems[0]) == "file: the query failed: attempt to write a readonly database"
    assert victim_rows(source) == [(1,), (2,), (3,)]


@pytest.mark.parametrize("dialect", ["mssql", "oracle"])
def test_it_refuses_a_source_it_cannot_open_read_only(dialect):
    with pytest.raises(ImportFailed) as refused:
        readers.read_only_session(dialect)
    assert str(refused.value.problems[0]) == "file: " + readers.NO_READ_ONLY.format(dialect=dialect)


def test_the_rows_of_a_query_are_limited_like_a_files(db, source, settings):
    settings.IMPORT_MAX_ROWS = 2
    with pytest.raises(ImportFailed) as refused:
        readers.read_sql(f"sqlite:///{source}", "SELECT id FROM victim")
    assert [str(p) for p in refused.value.problems] == ["row 3: " + readers.TOO_MANY_ROWS.format(limit=2)]


# PostgreSQL: a write hidden in a CTE ---------------------------------------------------------------


@pytest.fixture
def postgres_victim(db):
    """A table in the test database, committed by a connection of its own so the import's connection sees it."""
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL has data-modifying CTEs (WITH ... DELETE ... RETURNING); SQLite has none")
    import psycopg

    params = connection.get_connection_params()
    name = f"upload_victim_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**params, autocommit=True) as owner:
        owner.execute(f"CREATE TABLE {name} (id integer)")
        owner.execute(f"INSERT INTO {name} VALUES (1), (2), (3)")  # noqa: S608 - the table this fixture named
    settings_dict = connection.settings_dict
    url = URL.create(
        "postgresql+psycopg", username=settings_dict["USER"] or None, password=settings_dict["PASSWORD"] or None,
        host=settings_dict["HOST"] or None, port=int(settings_dict["PORT"]) if settings_dict["PORT"] else None,
        database=settings_dict["NAME"],
    ).render_as_string(hide_password=False)  # fmt: skip

    def rows():
        with psycopg.connect(**params, autocommit=True) as reader:
            return reader.execute(f"SELECT id FROM {name} ORDER BY id").fetchall()  # noqa: S608

    yield url, name, rows
    with psycopg.connect(**params, autocommit=True) as owner:
        owner.execute(f"DROP TABLE IF EXISTS {name}")


def test_a_write_hidden_in_a_cte_passes_the_statement_check_but_is_refused(postgres_victim):
    url, name, rows = postgres_victim
    query = f"WITH gone AS (DELETE FROM {name} RETURNING id) SELECT id FROM gone"  # noqa: S608
    readers.check_select(query)  # the statement check sees a SELECT: the database has to stop this one
    with pytest.raises(ImportFailed) as refused:
        readers.read_sql(url, query)
    assert str(refused.value.problems[0]).startswith("file: the query failed: ")
    assert rows() == [(1,), (2,), (3,)]


@pytest.mark.parametrize(
    ("statement", "sqlstate"),
    [
        ("WITH gone AS (DELETE FROM {name} RETURNING id) SELECT id FROM gone", "25006"),  # read_only_sql_transaction
        ("DELETE FROM {name}", "25006"),
        ("DROP TABLE {name}", "25006"),
        # Turning the transaction read-write from inside the query comes too late: 25001, active_sql_transaction.
        ("SELECT set_config('transaction_read_only', 'off', false)", "25001"),
    ],
)
def test_the_read_only_transaction_on_its_own_refuses_every_write(postgres_victim, statement, sqlstate):
    """Without the statement check and without a server-side cursor (which refuses a CTE write by itself)."""
    url, name, rows = postgres_victim
    engine = readers.read_only_engine(url)
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError) as refused, readers.read_only_connection(engine) as db:
            db.exec_driver_sql(statement.format(name=name))
    finally:
        engine.dispose()
    assert refused.value.orig.sqlstate == sqlstate, refused.value.orig
    assert rows() == [(1,), (2,), (3,)]


def test_on_postgresql_a_drop_is_refused_by_the_statement_check(postgres_victim):
    url, name, rows = postgres_victim
    assert refused_by_command(url, f"DROP TABLE {name}") == "file: " + readers.NOT_A_SELECT.format(kind="a DROP") + "\n"
    assert rows() == [(1,), (2,), (3,)]
