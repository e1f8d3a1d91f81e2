import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction

from core.bulk import ANALYZE_AFTER_ROWS, insert_rows

pytestmark = pytest.mark.django_db


def test_a_duplicate_key_is_djangos_integrity_error_on_every_database():
    # On PostgreSQL the rows go through COPY on the raw psycopg cursor, outside Django's error wrapping.
    insert_rows(Group, ["name"], [("reviewers",)])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Group, ["name"], [("reviewers",)])
    assert Group.objects.filter(name="reviewers").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics of PostgreSQL")
def test_a_large_load_leaves_the_planner_statistics_counting_its_rows():
    def reltuples():
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Group._meta.db_table])
            return cursor.fetchone()[0]

    with connection.cursor() as cursor:  # what autovacuum leaves after a rolled-back import: "empty"
        cursor.execute(f"ANALYZE {Group._meta.db_table}")
    assert reltuples() <= 10
    insert_rows(Group, ["name"], ((f"group {n}",) for n in range(ANALYZE_AFTER_ROWS)))
    assert reltuples() >= ANALYZE_AFTER_ROWS
