import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from consent import ledger, services
from consent.models import ConsentEvent, Subject
from tests.conftest import at


@pytest.fixture
def three_events(actor, make_subject, notice):
    events = []
    for month in (1, 2, 3):
        subject = make_subject()
        events.append(
            services.grant_consent(
                actor=actor,
                subject=subject,
                purposes=["evaluation"],
                notice=notice,
                channel="web_form",
                collected_at=at(2025, month),
                event_id=f"EV-{month}",
            )  # fmt: skip
        )
    return events


def raw_sql(sql, params=()):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER consent_event_append_only")
        else:
            cursor.execute("DROP TRIGGER consent_event_append_only ON consent_consentevent")
        cursor.execute(sql, params)


def test_an_intact_ledger_verifies(three_events, capsys):
    assert ledger.verify().ok
    call_command("verify_ledger")
    assert capsys.readouterr().out.strip() == "OK: 3 consent events, chain intact"


def test_it_names_the_event_whose_stored_byte_was_altered(three_events):
    # One character of the second event's channel, changed behind the application's back.
    raw_sql("UPDATE consent_consentevent SET channel = 'web_forn' WHERE sequence = 2")
    check = ledger.verify()
    assert (check.broken_sequence, check.broken_event_id) == (2, "EV-2")
    assert "does not match its stored hash" in check.summary()
    with pytest.raises(CommandError, match=r"BROKEN at event #2 \(event id EV-2\)"):
        call_command("verify_ledger")


def test_it_names_the_event_whose_subject_reference_was_changed(three_events):
    Subject.objects.filter(pk=three_events[2].subject_id).update(reference="SOMEONE-ELSE")
    check = ledger.verify()
    assert check.broken_sequence == 3
    assert "reference no longer matches" in check.summary()


def test_it_notices_a_removed_last_event(three_events):
    raw_sql("DELETE FROM consent_consentevent WHERE sequence = 3")
    check = ledger.verify()
    assert not check.ok
    assert "events were removed" in check.summary()


def test_it_notices_a_removed_middle_event(three_events):
    raw_sql("DELETE FROM consent_consentevent WHERE sequence = 2")
    check = ledger.verify()
    assert check.broken_sequence == 3


def test_the_database_refuses_to_edit_an_event(three_events):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE consent_consentevent SET channel = 'email' WHERE sequence = 1")
    assert ConsentEvent.objects.get(pk=1).channel == "web_form"


def test_the_model_refuses_to_edit_or_delete_an_event(three_events):
    event = three_events[0]
    event.channel = "email"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    with pytest.raises(ValueError, match="append-only"):
        ConsentEvent.objects.filter(pk=event.pk).update(channel="email")
    with pytest.raises(ValueError, match="append-only"):
        ConsentEvent.objects.all().delete()
