from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import transaction

from core import audit_log
from core.audit_log import Actor
from core.models import AuditLogEntry


def record(**overrides):
    values = dict(actor=Actor.system("cli:alice"), action="x.change", object_type="x", object_id=1, after={"a": 1})
    return audit_log.record(**{**values, **overrides})


def test_it_refuses_to_record_outside_a_transaction(transactional_db, django_db_serialized_rollback):
    with pytest.raises(RuntimeError) as refused:
        record()
    assert str(refused.value) == "Audit log entry for x.change must be written inside the service's transaction"
    assert not AuditLogEntry.objects.exists()


def test_it_records_inside_a_transaction(db):
    with transaction.atomic():
        entry = record(before={"a": 0}, object_id=42)
    stored = AuditLogEntry.objects.get()
    assert stored == entry
    assert (stored.actor, stored.actor_label, stored.action) == (None, "cli:alice", "x.change")
    assert (stored.object_type, stored.object_id, stored.before, stored.after) == ("x", "42", {"a": 0}, {"a": 1})
    assert stored.at is not None


def test_an_entry_goes_with_its_transaction(transactional_db, django_db_serialized_rollback):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        record()
        1 / 0  # noqa: B018 - the change that the entry described fails
    assert not AuditLogEntry.objects.exists()


def test_it_records_the_signed_in_user(db, django_user_model):
    user = django_user_model.objects.create_user("officer")
    with transaction.atomic():
        entry = record(actor=Actor.of_user(user))
    assert (entry.actor, entry.actor_label) == (user, "user:officer")


def test_it_keeps_dates_and_decimals_readable(db):
    with transaction.atomic():
        record(after={"at": datetime(2025, 1, 1, tzinfo=UTC), "threshold": Decimal("0.05")})
    assert AuditLogEntry.objects.get().after == {"at": "2025-01-01T00:00:00Z", "threshold": "0.05"}


def test_an_entry_cannot_be_saved_again(db):
    with transaction.atomic():
        entry = record()
    entry.action = "x.forged"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    assert AuditLogEntry.objects.get().action == "x.change"


def test_an_entry_cannot_be_deleted(db):
    with transaction.atomic():
        entry = record()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    assert AuditLogEntry.objects.count() == 1


def test_entries_cannot_be_updated_or_deleted_in_bulk(db):
    with transaction.atomic():
        record()
    with pytest.raises(ValueError, match="append-only"), transaction.atomic():
        AuditLogEntry.objects.all().update(action="x.forged")
    with pytest.raises(ValueError, match="append-only"), transaction.atomic():
        AuditLogEntry.objects.all().delete()
    assert list(AuditLogEntry.objects.values_list("action", flat=True)) == ["x.change"]
