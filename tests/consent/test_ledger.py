from datetime import date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from consent import ledger, selectors
from consent.models import ConsentEvent, GuardianConsent, LedgerHead, Subject
from consent.rules.purposes import Purpose
from tests.conftest import at


@pytest.fixture
def three_events(grant, make_subject):
    """EV-1 and EV-2 for two adults (EV-2 with an expiry and evidence), EV-3 for a child with a guardian."""
    return [
        grant(make_subject("S-1"), collected_at=at(2025, 1), event_id="EV-1"),
        grant(
            make_subject("S-2"),
            collected_at=at(2025, 2),
            event_id="EV-2",
            expires_at=at(2027, 1),
            evidence_hash="ab" * 32,
        ),  # fmt: skip
        grant(
            make_subject("S-3", jurisdiction="FR", birth_month=date(2013, 5, 1)),
            collected_at=at(2025, 3),
            event_id="EV-3",
            guardian_reference="GUARD-3",
        ),  # fmt: skip
    ]


LEDGER_TABLES = ("consent_consentevent", "consent_ledgerhead")


def drop_ledger_triggers():
    """What a role with DDL rights on the ledger can do (the owner on PostgreSQL, anyone on SQLite).

    The test's transaction rolls it back with everything else.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)", LEDGER_TABLES
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no deferred foreign-key check
            for table in LEDGER_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")


def stored(column, sequence):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM consent_consentevent WHERE sequence = %s", [sequence])  # noqa: S608
        return cursor.fetchone()[0]


def tamper(column, value, sequence=2):
    """Write a value into a stored event behind the application's back."""
    drop_ledger_triggers()
    placeholder = "%s::jsonb" if column == "purposes" and connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE consent_consentevent SET {column} = {placeholder} WHERE sequence = %s",  # noqa: S608
            [value, sequence],
        )


def one_character_changed(text: str) -> str:
    last = text[-1]
    return text[:-1] + ("0" if last != "0" else "1")


def one_second_later(value):
    if isinstance(value, str):  # SQLite hands back the stored text, in UTC
        value = datetime.fromisoformat(value + "+00:00")
    return connection.ops.adapt_datetimefield_value(value + timedelta(seconds=1))


def assert_command_names(sequence, event_id):
    with pytest.raises(CommandError) as broken:
        call_command("verify_ledger")
    assert str(broken.value).startswith(f"BROKEN at event #{sequence} (event id {event_id}): ")


# An intact ledger ----------------------------------------------------------------------------


def test_an_intact_ledger_verifies_and_the_command_prints_ok_with_the_count(three_events, capsys):
    check = ledger.verify()
    assert (check.ok, check.count, check.broken_sequence) == (True, 3, None)
    call_command("verify_ledger")
    assert capsys.readouterr().out == "OK: 3 consent events, chain intact\n"


def test_an_empty_ledger_verifies(db, capsys):
    call_command("verify_ledger")
    assert capsys.readouterr().out == "OK: 0 consent events, chain intact\n"


def test_each_event_holds_the_hash_of_the_one_before(three_events):
    events = list(ConsentEvent.objects.order_by("sequence"))
    assert [e.sequence for e in events] == [1, 2, 3]
    assert events[0].prev_hash == ledger.chain.GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    head = LedgerHead.objects.get()
    assert (head.sequence, head.hash) == (3, events[-1].hash)


def test_the_ledger_does_not_hold_personal_references(three_events):
    for event in ConsentEvent.objects.all():
        row = " ".join(str(v) for v in ConsentEvent.objects.filter(pk=event.pk).values().get().values())
        assert "S-" not in row and "GUARD" not in row


def test_appending_outside_a_transaction_is_refused(transactional_db, django_db_serialized_rollback):
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        ledger.append([])


# One stored byte altered ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "alter"),
    [
        ("channel", one_character_changed),
        ("kind", one_character_changed),
        ("purposes", lambda text: text.replace("evaluation", "evaluatiom")),
        ("evidence_hash", one_character_changed),
        ("age_rule_version", one_character_changed),
        ("personal_digest", one_character_changed),
        ("prev_hash", one_character_changed),
        ("hash", one_character_changed),
        ("collected_at", one_second_later),
        ("expires_at", one_second_later),
        ("recorded_at", one_second_later),
    ],
)
def test_it_names_the_event_whose_stored_byte_was_altered(three_events, column, alter):
    tamper(column, alter(stored(column, 2)))
    check = ledger.verify()
    assert (check.ok, check.count) == (False, 1)
    assert (check.broken_sequence, check.broken_event_id) == (2, "EV-2")
    assert_command_names(2, "EV-2")


def test_it_says_why_the_event_is_broken(three_events):
    tamper("channel", "web_forn")
    assert ledger.verify().summary() == "BROKEN at event #2 (event id EV-2): its content does not match its stored hash"


def test_it_names_an_event_whose_id_was_altered(three_events):
    tamper("event_id", "EV-9")
    check = ledger.verify()
    assert (check.broken_sequence, check.broken_event_id) == (2, "EV-9")


def test_it_names_an_event_moved_to_another_subject(three_events):
    tamper("subject_id", three_events[0].subject_id)
    assert (ledger.verify().broken_sequence, ledger.verify().broken_event_id) == (2, "EV-2")


def test_it_names_an_event_whose_purpose_mask_was_altered(three_events):
    # The mask is what the consent checks read: widening it grants purposes nobody agreed to.
    tamper("purpose_mask", 15)
    subject = Subject.objects.get(reference="S-2")
    assert selectors.is_consent_active(subject, Purpose.TRAINING, at(2025, 6))  # the damage is real
    check = ledger.verify()
    assert (check.broken_sequence, check.broken_event_id) == (2, "EV-2")


# Personal data altered -----------------------------------------------------------------------


def test_it_names_the_event_whose_subject_reference_was_changed(three_events):
    Subject.objects.filter(reference="S-2").update(reference="SOMEONE-ELSE")
    check = ledger.verify()
    assert (check.broken_sequence, check.broken_event_id) == (2, "EV-2")
    assert check.reasons == ["the subject's or guardian's reference no longer matches the recorded digest"]
    assert_command_names(2, "EV-2")


def test_it_names_the_first_event_of_a_subject_whose_reference_was_changed(three_events, grant):
    grant(Subject.objects.get(reference="S-3"), purposes=["bias_audit"], collected_at=at(2025, 4),
          guardian_reference="GUARD-3", event_id="EV-4")  # fmt: skip
    Subject.objects.filter(reference="S-3").update(reference="SOMEONE-ELSE")
    assert ledger.verify().broken_sequence == 3


def test_it_catches_a_reference_changed_with_its_salt_cleared(three_events):
    # Clearing the salt must not pass a live subject off as an erased one.
    Subject.objects.filter(reference="S-2").update(reference="SOMEONE-ELSE", salt="")
    check = ledger.verify()
    assert (check.broken_sequence, check.broken_event_id) == (2, "EV-2")


def test_it_names_the_event_whose_guardian_reference_was_changed(three_events):
    GuardianConsent.objects.filter(reference="GUARD-3").update(reference="GUARD-X")
    check = ledger.verify()
    assert (check.broken_sequence, check.broken_event_id) == (3, "EV-3")


def test_it_names_the_event_whose_guardian_was_removed(three_events):
    GuardianConsent.objects.all().delete()
    assert ledger.verify().broken_sequence == 3


def test_an_erased_subject_keeps_the_chain_intact(three_events, erase):
    erase(Subject.objects.get(reference="S-3"))
    check = ledger.verify()
    assert (check.ok, check.count) == (True, 4)


# Events removed ------------------------------------------------------------------------------


def test_it_notices_a_removed_last_event_through_the_ledger_head(three_events):
    drop_ledger_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_guardianconsent")
        cursor.execute("DELETE FROM consent_consentevent WHERE sequence = 3")
    check = ledger.verify()
    assert (check.ok, check.count) == (False, 2)
    assert (check.broken_sequence, check.broken_event_id) == (3, "(ledger head)")
    assert "the ledger head records 3 events" in check.summary()
    assert "but the stored chain has 2" in check.summary()
    assert_command_names(3, "(ledger head)")


def test_it_notices_a_removed_middle_event(three_events):
    drop_ledger_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentevent WHERE sequence = 2")
    check = ledger.verify()
    assert (check.broken_sequence, check.broken_event_id) == (3, "EV-3")
    assert "expected sequence 2" in check.summary()
    assert "previous-event hash does not match" in check.summary()


def test_it_notices_an_altered_ledger_head(three_events):
    drop_ledger_triggers()
    LedgerHead.objects.filter(pk=1).update(hash="f" * 64)
    assert ledger.verify().broken_event_id == "(ledger head)"


# Nothing edits an event ----------------------------------------------------------------------


def test_the_database_refuses_to_update_an_event(three_events):
    with pytest.raises((IntegrityError, DatabaseError)) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE consent_consentevent SET channel = 'email' WHERE sequence = 1")
    assert "append-only" in str(refused.value)
    assert ConsentEvent.objects.get(pk=1).channel == "web_form"
    assert ledger.verify().ok


def test_the_database_refuses_to_delete_an_event(three_events):
    with pytest.raises((IntegrityError, DatabaseError)) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentevent WHERE sequence = 3")
    assert "append-only" in str(refused.value)
    assert ConsentEvent.objects.count() == 3
    assert ledger.verify().ok


def test_the_database_refuses_to_delete_every_event(three_events):
    # SQLite empties a table without visiting its rows unless a trigger is there to see them.
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_guardianconsent")
        cursor.execute("DELETE FROM consent_consentevent")
    assert ConsentEvent.objects.count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
def test_the_database_refuses_to_truncate_the_ledger(three_events):
    for table in ("consent_consentevent", "consent_ledgerhead", "consent_subject"):  # the last by CASCADE
        with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else the fixtures' pending foreign-key checks refuse it
            cursor.execute(f"TRUNCATE {table} CASCADE")
        assert "append-only: TRUNCATE refused" in str(refused.value)
    assert ConsentEvent.objects.count() == 3
    assert ledger.verify().ok


def test_the_database_refuses_to_delete_the_ledger_head(three_events):
    with pytest.raises((IntegrityError, DatabaseError)) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_ledgerhead")
    assert "append-only" in str(refused.value)
    assert LedgerHead.objects.get().sequence == 3


@pytest.mark.parametrize(
    "assignment",
    [
        "sequence = 2",  # back to an earlier event, as after removing the last one
        "sequence = 0, hash = '" + "0" * 64 + "'",  # back to the empty ledger
        "hash = '" + "f" * 64 + "'",  # another hash at the same sequence
        "id = 2",
    ],
)
def test_the_database_refuses_to_move_the_ledger_head_back_or_rewrite_it(three_events, assignment):
    head = LedgerHead.objects.get()
    with pytest.raises((IntegrityError, DatabaseError)) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE consent_ledgerhead SET {assignment}")  # noqa: S608
    assert "append-only" in str(refused.value)
    assert LedgerHead.objects.values_list("id", "sequence", "hash").get() == (1, 3, head.hash)


def test_appending_still_moves_the_ledger_head_forward(three_events, grant, make_subject):
    event = grant(make_subject("S-4"), event_id="EV-4")
    assert LedgerHead.objects.values_list("sequence", "hash").get() == (4, event.hash)
    assert ledger.verify().ok


def test_saving_an_existing_event_is_refused(three_events):
    event = ConsentEvent.objects.get(pk=1)
    event.channel = "email"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.save(update_fields=["channel"])
    assert ConsentEvent.objects.get(pk=1).channel == "web_form"


def test_deleting_an_event_is_refused(three_events):
    with pytest.raises(ValueError, match="append-only"):
        three_events[0].delete()
    assert ConsentEvent.objects.count() == 3


def test_queryset_updates_and_deletes_are_refused(three_events):
    events = ConsentEvent.objects.filter(pk=1)
    with pytest.raises(ValueError, match="append-only"):
        events.update(channel="email")
    with pytest.raises(ValueError, match="append-only"):
        events.delete()
    with pytest.raises(ValueError, match="append-only"):
        ConsentEvent.objects.all().delete()
    event = ConsentEvent.objects.get(pk=1)
    event.channel = "email"
    with pytest.raises(ValueError, match="append-only"), transaction.atomic():
        ConsentEvent.objects.bulk_update([event], ["channel"])
    assert ConsentEvent.objects.count() == 3
    assert ledger.verify().ok
