"""Fast multi-row inserts for large imports.

`bulk_create` prepares every value of every row through each field's Python methods and,
on SQLite, splits inserts into statements of a few dozen rows; for a million-row import
that is most of the time spent. `insert_rows` takes rows whose values are already in the
database's form (see the adapters below) and sends them with `executemany`.
"""

import gc
import json
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections

ROWS_PER_CALL = 20_000
# A load this large is followed by ANALYZE on PostgreSQL (see `_copy_rows`).
ANALYZE_AFTER_ROWS = 10_000


def datetime_adapter():
    """A function turning aware datetimes into the current database's form, fast enough for millions of rows."""
    current = connections[DEFAULT_DB_ALIAS]  # resolve the thread-local proxy once, not per value
    adapt = current.ops.adapt_datetimefield_value
    if current.vendor != "sqlite":
        return adapt

    def sqlite_datetime(value):
        if value is None:
            return None
        if value.tzinfo is UTC:
            # What the SQLite backend's adapt_datetimefield_value returns, without its per-value overhead.
            return str(value.replace(tzinfo=None))
        return adapt(value)

    return sqlite_datetime


def db_datetime(value):
    return datetime_adapter()(value)


def date_adapter():
    adapt = connections[DEFAULT_DB_ALIAS].ops.adapt_datefield_value
    return lambda value: None if value is None else adapt(value)


def uuid_adapter():
    if connections[DEFAULT_DB_ALIAS].features.has_native_uuid_field:
        return lambda value: value
    return lambda value: value.hex


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector during a bulk load.

    A million-row import allocates millions of small objects that live until it ends; the
    collector's repeated passes over them cost a fifth of the import and free nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def db_json(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":"))


def insert_rows(model, field_names: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert rows into `model`'s table; values follow `field_names` and must be database-ready."""
    meta = model._meta
    columns = [meta.get_field(name).column for name in field_names]
    sql = "INSERT INTO {table} ({columns}) VALUES ({placeholders})".format(  # noqa: S608 - names come from model metadata
        table=connection.ops.quote_name(meta.db_table),
        columns=", ".join(connection.ops.quote_name(c) for c in columns),
        placeholders=", ".join(["%s"] * len(columns)),
    )
    if connection.vendor == "postgresql":
        return _copy_rows(meta.db_table, columns, rows)
    count = 0
    batch: list[Sequence] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) == ROWS_PER_CALL:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _copy_rows(table: str, columns: list[str], rows: Iterable[Sequence]) -> int:
    """PostgreSQL's COPY: several times faster than multi-row INSERTs for large imports."""
    quote = connection.ops.quote_name
    statement = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    count = 0
    # The raw psycopg cursor raises psycopg's own errors; callers catch Django's (IntegrityError).
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    if count >= ANALYZE_AFTER_ROWS:
        # Until autovacuum comes round, the planner keeps the table's old statistics. After a rolled-back
        # import and a vacuum those say "empty", and a query planned on them right after this load (building
        # an evaluation set, say) picks nested loops over every row and runs for hours.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {quote(table)}")
    return count


def rows_where_in(model, column_names: Sequence[str], key: str, values: Iterable, chunk: int = 10_000) -> list[tuple]:
    """`SELECT column_names FROM model WHERE key IN (values)`, without the ORM's per-value preparation.

    For string and integer keys; values come back raw (no Django conversion of dates or JSON).
    When the values are many compared with the table, one scan of the table is cheaper than
    index lookups in chunks, so that is what it does.
    """
    meta = model._meta
    quote = connection.ops.quote_name

    def column(name):
        return quote(meta.pk.column if name == "pk" else meta.get_field(name).column)

    wanted = set(values)
    if not wanted:
        return []
    select = ", ".join([column(name) for name in column_names] + [column(key)])
    table = quote(meta.db_table)
    found: list[tuple] = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - names come from model metadata
        (rows_in_table,) = cursor.fetchone()
        if rows_in_table <= 4 * len(wanted):
            cursor.execute(f"SELECT {select} FROM {table}")  # noqa: S608
            found = [row[:-1] for row in cursor.fetchall() if row[-1] in wanted]
            return found
        ordered = list(wanted)
        for start in range(0, len(ordered), chunk):
            batch = ordered[start : start + chunk]
            placeholders = ", ".join(["%s"] * len(batch))
            cursor.execute(f"SELECT {select} FROM {table} WHERE {column(key)} IN ({placeholders})", batch)  # noqa: S608
            found.extend(row[:-1] for row in cursor.fetchall())
    return found
