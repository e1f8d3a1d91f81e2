import pytest
from django.db import transaction

from core import audit_log
from core.audit_log import Actor
from core.models import AuditLogEntry


def test_it_refuses_to_record_outside_a_transaction(transactional_db):
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        audit_log.record(actor=Actor.system(), action="x.y", object_type="x", object_id=1)


def test_entries_are_append_only(db):
    with transaction.atomic():
        entry = audit_log.record(
            actor=Actor.system("cli:alice"), action="x.y", object_type="x", object_id=1, after={"a": 1}
        )
    entry.action = "x.z"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    assert AuditLogEntry.objects.get().action == "x.y"


def test_it_records_the_signed_in_user(db, django_user_model):
    user = django_user_model.objects.create_user("officer")
    with transaction.atomic():
        entry = audit_log.record(actor=Actor.of_user(user), action="x.y", object_type="x", object_id=1)
    assert entry.actor == user
    assert entry.actor_label == "user:officer"
