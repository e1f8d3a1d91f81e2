"""The consent ledger cannot be quietly shortened or rewritten (issue 13, part 1 and 2).

The triggers refuse every change but an append, to every role, the owner included. What a role
with DDL rights does after dropping them (the issue's attack) is caught by the signed checkpoints.
"""

import json

import pytest
from django.core.management import CommandError, call_command
from django.core.management.color import no_style
from django.core.management.sql import sql_flush
from django.db import DatabaseError, IntegrityError, connection, transaction

from consent import ledger, services
from consent.models import ConsentEvent, LedgerHead
from consent.rules.ledger import GENESIS_HASH
from consent.rules.purposes import Purpose
from consent.selectors import is_consent_active
from tests.conftest import at
from tests.consent.test_ledger import drop_ledger_triggers
from tests.consent.test_ledger_checkpoints import checkpoint_now, remove_events_after

REFUSED = (IntegrityError, DatabaseError)


@pytest.fixture
def grant(actor, notice):
    def record(subject, **overrides):
        values = dict(purposes=["evaluation"], notice=notice, channel="web_form", collected_at=at(2025, 3))
        return services.grant_consent(actor=actor, subject=subject, **{**values, **overrides})

    return record


@pytest.fixture
def signing_key(db):
    call_command("create_signing_key", "--common-name", "Ledger checkpoints")


@pytest.fixture
def ledger_of_twenty(grant, make_subject, actor):
    """12 grants, then 7 withdrawals and an erasure: the last 8 events are what an attacker wants gone."""
    subjects = [make_subject() for _ in range(12)]
    for subject in subjects:
        grant(subject, purposes=["evaluation", "bias_audit"], collected_at=at(2025, 1))
    for subject in subjects[:7]:
        services.withdraw_consent(actor=actor, subject=subject, purposes=["evaluation", "bias_audit"],
                                  channel="email", collected_at=at(2025, 6))  # fmt: skip
    services.erase_subject(actor=actor, subject=subjects[7], channel="email", collected_at=at(2025, 7))
    assert LedgerHead.objects.get().sequence == 20
    return subjects


def test_it_catches_the_eight_newest_events_removed_and_the_head_set_back(signing_key, ledger_of_twenty):
    checkpoint = checkpoint_now()
    remove_events_after(12)  # triggers disabled first, as the owner role can
    # The damage: seven people who withdrew count as consenting again, and the chain alone verifies.
    assert all(is_consent_active(s, Purpose.EVALUATION, at(2026, 1)) for s in ledger_of_twenty[:7])
    assert ledger.verify(checkpoint_dirs=[]).summary() == "OK: 12 consent events, chain intact"
    moment = json.loads(checkpoint.read_text())["checkpoint"]["created_at"][:19] + "Z"
    with pytest.raises(CommandError) as broken:
        call_command("verify_ledger")
    assert str(broken.value) == (
        f"BROKEN at event #13 (checkpoint {checkpoint.name}): events 13-20 are missing: the ledger ends at 12 "
        f"but checkpoint {checkpoint.name} of {moment} recorded 20"
    )


def test_it_catches_the_removed_events_after_the_application_appended_again(signing_key, ledger_of_twenty, grant,
                                                                           make_subject):  # fmt: skip
    checkpoint_now()
    remove_events_after(12)
    for _ in range(10):
        grant(make_subject())  # 13-22 exist again, with other content
    check = ledger.verify()
    assert not check.ok
    assert check.reasons[0].startswith("events 1-20 were rewritten: event 20 is stored with hash ")


# What the triggers refuse, to every role -----------------------------------------------------

STATEMENTS = {
    "UPDATE an event": "UPDATE consent_consentevent SET channel = 'email' WHERE sequence = 20",
    "DELETE an event": "DELETE FROM consent_consentevent WHERE sequence = 20",
    "DELETE every event": "DELETE FROM consent_consentevent",
    "DELETE the ledger head": "DELETE FROM consent_ledgerhead",
    "set the head back": "UPDATE consent_ledgerhead SET sequence = 12",
    "rewrite the head's hash": "UPDATE consent_ledgerhead SET hash = '" + "f" * 64 + "'",
}
POSTGRES_STATEMENTS = {
    "TRUNCATE the events": "TRUNCATE consent_consentevent CASCADE",
    "TRUNCATE the ledger head": "TRUNCATE consent_ledgerhead",
    "TRUNCATE the subjects with their events": "TRUNCATE consent_subject CASCADE",
}


@pytest.mark.parametrize("statement", [*STATEMENTS, *POSTGRES_STATEMENTS])
def test_the_database_refuses_it_to_the_tables_owner_too(ledger_of_twenty, statement):
    if statement in POSTGRES_STATEMENTS and connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    sql = {**STATEMENTS, **POSTGRES_STATEMENTS}[statement]
    head = LedgerHead.objects.values_list("sequence", "hash").get()
    with pytest.raises(REFUSED) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_guardianconsent")  # so that only the ledger's own guard can refuse
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses a table with checks pending
        cursor.execute(sql)
    assert "append-only" in str(refused.value)
    assert ConsentEvent.objects.count() == 20
    assert LedgerHead.objects.values_list("sequence", "hash").get() == head
    assert ledger.verify().ok


def test_dropping_the_triggers_is_what_it_takes(ledger_of_twenty):
    drop_ledger_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentevent WHERE sequence = 20")
    assert ConsentEvent.objects.count() == 19  # hence the checkpoints, and on PostgreSQL the app's own role


def test_a_plain_flush_of_the_database_is_refused(ledger_of_twenty):
    # `manage.py flush` runs this; only the test suite's own flush suspends the triggers (tests/conftest.py).
    with pytest.raises(REFUSED):
        connection.ops.execute_sql_flush(sql_flush(no_style(), connection))
    assert ConsentEvent.objects.count() == 20


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_test_suites_flush_empties_the_ledger_and_puts_the_triggers_back(grant, make_subject):
    grant(make_subject())  # committed: this test runs outside a wrapping transaction
    call_command("flush", interactive=False, verbosity=0)
    assert (ConsentEvent.objects.count(), LedgerHead.objects.count()) == (0, 0)
    LedgerHead.objects.create(id=1, sequence=0, hash=GENESIS_HASH)
    with pytest.raises(REFUSED), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_ledgerhead")
    assert LedgerHead.objects.count() == 1
