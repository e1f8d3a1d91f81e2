import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from core.bulk import insert_rows

pytestmark = pytest.mark.django_db


def test_a_duplicate_key_is_djangos_integrity_error_on_every_database():
    # On PostgreSQL the rows go through COPY on the raw psycopg cursor, outside Django's error wrapping.
    insert_rows(Group, ["name"], [("reviewers",)])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Group, ["name"], [("reviewers",)])
    assert Group.objects.filter(name="reviewers").count() == 1
