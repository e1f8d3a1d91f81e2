"""Sign-in is throttled per account and per address, and every failure is in the audit log (issue 13, part 5)."""

import json

import pytest
from axes.models import AccessAttempt
from django.core.serializers.json import DjangoJSONEncoder

from core.models import AuditLogEntry
from core.sign_in import username_digest

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests/conftest.py role_user
GUESSER, OWNER = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def steward(role_user):
    return role_user("steward")


def sign_in(client, username, password, address):
    return client.post("/sign-in/", {"username": username, "password": password}, REMOTE_ADDR=address)


def guess(client, username, times, address=GUESSER):
    return [sign_in(client, username, f"guess-{n}", address) for n in range(times)]


def test_it_locks_an_account_out_from_the_guessing_address_after_the_failure_limit(client, steward, settings):
    answers = guess(client, steward.username, settings.AXES_FAILURE_LIMIT)
    assert [a.status_code for a in answers] == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = answers[-1]
    page = locked.content.decode()
    assert "Too many failed sign-ins for this username from your address" in page
    assert "try again in 15 minutes" in page
    assert 1 <= int(locked["Retry-After"]) <= settings.SIGN_IN_COOL_OFF_SECONDS
    # Even the right password is refused from there while the lock holds, and does not extend it.
    assert sign_in(client, steward.username, PASSWORD, GUESSER).status_code == 429


def test_it_does_not_lock_the_real_user_out_from_another_address(client, steward, settings):
    guess(client, steward.username, settings.AXES_FAILURE_LIMIT + 3)
    answer = sign_in(client, steward.username, PASSWORD, OWNER)
    assert answer.status_code == 302 and answer["Location"] == "/"


def test_it_locks_out_an_address_that_tries_a_few_passwords_on_many_accounts(client, settings, django_user_model):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 7
    for name in ("ana", "ben", "cai"):
        assert [a.status_code for a in guess(client, name, 2)] == [200, 200]
    refused = sign_in(client, "dee", "guess", GUESSER)
    assert refused.status_code == 429
    assert "Too many failed sign-ins from your address" in refused.content.decode()
    django_user_model.objects.create_user("eve", password=PASSWORD)
    assert sign_in(client, "eve", PASSWORD, GUESSER).status_code == 429
    assert sign_in(client, "eve", PASSWORD, OWNER).status_code == 302


def test_it_lets_the_account_in_again_from_that_address_after_the_cool_off(client, steward, settings):
    guess(client, steward.username, settings.AXES_FAILURE_LIMIT)
    assert sign_in(client, steward.username, PASSWORD, GUESSER).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME)
    assert sign_in(client, steward.username, PASSWORD, GUESSER).status_code == 302


def test_it_takes_the_cool_off_from_settings(client, steward, settings):
    from datetime import timedelta

    settings.AXES_COOLOFF_TIME = timedelta(seconds=40)
    locked = guess(client, steward.username, settings.AXES_FAILURE_LIMIT)[-1]
    assert locked.status_code == 429
    assert 1 <= int(locked["Retry-After"]) <= 40
    assert "try again in 40 seconds" in locked.content.decode() or "try again in 39 seconds" in locked.content.decode()


def test_it_writes_every_failed_sign_in_to_the_audit_log_without_the_password_or_the_typed_name(client, steward):
    guess(client, steward.username, 2)
    sign_in(client, "not-a-user", "hunter2-secret", GUESSER)
    entries = list(AuditLogEntry.objects.filter(action="sign_in.fail").order_by("id"))
    assert len(entries) == 3
    known, unknown = entries[0], entries[-1]
    assert (known.object_type, known.object_id, known.actor_label) == ("user", str(steward.pk), "sign-in")
    assert known.after == {"username_digest": username_digest(steward.username), "address": GUESSER,
                           "locked_out": False}  # fmt: skip
    assert (unknown.object_type, unknown.after["username_digest"]) == ("sign_in", username_digest("not-a-user"))
    written = json.dumps([e.after for e in entries] + [e.object_id for e in entries], cls=DjangoJSONEncoder)
    for secret in ("guess-0", "guess-1", "hunter2-secret", "not-a-user", steward.username):
        assert secret not in written


def test_it_records_that_a_failure_locked_the_sign_in(client, steward, settings):
    guess(client, steward.username, settings.AXES_FAILURE_LIMIT)
    last = AuditLogEntry.objects.filter(action="sign_in.fail").order_by("-id").first()
    assert last.after["locked_out"] is True


def test_a_successful_sign_in_clears_the_accounts_failures_from_that_address(client, steward, settings):
    guess(client, steward.username, settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, steward.username, PASSWORD, GUESSER).status_code == 302
    client.post("/sign-out/")
    assert sign_in(client, steward.username, "wrong", GUESSER).status_code == 200  # counting starts over
