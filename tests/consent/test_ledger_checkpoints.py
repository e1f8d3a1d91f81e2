import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from consent import checkpoints, ledger
from consent.models import LedgerHead
from consent.rules.ledger import GENESIS_HASH, canonical_json
from consent.tasks import ledger_checkpoint_task
from core.models import AuditLogEntry
from tests.consent.test_ledger import drop_ledger_triggers


@pytest.fixture
def signing_key(db, settings):
    call_command("create_signing_key", "--common-name", "Test ledger signing")
    return Path(settings.REPORT_SIGNING_KEY), Path(settings.REPORT_SIGNING_CERT)


@pytest.fixture
def events(grant, make_subject):
    """Grant for n new subjects; returns the events."""

    def make(n):
        return [grant(make_subject()) for _ in range(n)]

    return make


def checkpoint_now() -> Path:
    before = set(checkpoints.checkpoint_files())
    call_command("ledger_checkpoint")
    (path,) = set(checkpoints.checkpoint_files()) - before
    return path


def verify_fails() -> str:
    with pytest.raises(CommandError) as broken:
        call_command("verify_ledger")
    return str(broken.value)


def remove_events_after(sequence: int):
    """Delete the newest events and set the head to the new last one, as a role with DDL rights can."""
    drop_ledger_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_guardianconsent WHERE event_id > %s", [sequence])
        cursor.execute("DELETE FROM consent_consentevent WHERE sequence > %s", [sequence])
        cursor.execute(
            "UPDATE consent_ledgerhead SET sequence = %s, "
            "hash = COALESCE((SELECT hash FROM consent_consentevent WHERE sequence = %s), %s)",
            [sequence, sequence, GENESIS_HASH],
        )


# Writing a checkpoint ------------------------------------------------------------------------


def test_it_writes_the_signed_head_to_the_checkpoint_folder(signing_key, events, settings, capsys):
    made = events(3)
    path = checkpoint_now()
    assert path.parent == Path(settings.LEDGER_CHECKPOINT_DIR)
    document = json.loads(path.read_text())
    body = document["checkpoint"]
    assert (body["sequence"], body["hash"]) == (3, made[-1].hash) == (3, LedgerHead.objects.get().hash)
    assert body["organisation"] == settings.ORGANISATION_NAME
    assert body["format"] == checkpoints.FORMAT
    # Anyone holding the certificate can check the file, without this code.
    certificate = x509.load_pem_x509_certificate(signing_key[1].read_bytes())
    assert (
        document["signature"]["certificate_sha256"]
        == hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    )
    certificate.public_key().verify(
        base64.b64decode(document["signature"]["value"]), canonical_json(body), ec.ECDSA(hashes.SHA256())
    )
    assert f"Checkpoint of event #3 (hash {made[-1].hash[:12]}…)" in capsys.readouterr().out


def test_it_records_the_checkpoint_in_the_audit_log(signing_key, events):
    events(2)
    path = checkpoint_now()
    entry = AuditLogEntry.objects.get(action="ledger.checkpoint")
    assert entry.object_id == path.name
    assert entry.after["sequence"] == 2
    assert entry.after["path"] == str(path)


def test_it_checkpoints_an_empty_ledger(signing_key):
    path = checkpoint_now()
    assert json.loads(path.read_text())["checkpoint"]["hash"] == GENESIS_HASH
    assert path.name.startswith("ledger-checkpoint-000000000000-")


def test_it_refuses_to_checkpoint_without_the_signing_key(db, events, settings):
    events(1)
    with pytest.raises(CommandError, match="create_signing_key"):
        call_command("ledger_checkpoint")
    assert checkpoints.checkpoint_files() == []
    assert not AuditLogEntry.objects.filter(action="ledger.checkpoint").exists()


def test_it_removes_the_file_when_the_audit_log_entry_fails(signing_key, events, monkeypatch):
    events(1)

    def fail(**kwargs):
        raise RuntimeError("the audit store went away")

    monkeypatch.setattr(checkpoints.audit_log, "record", fail)
    with pytest.raises(RuntimeError):
        call_command("ledger_checkpoint")
    assert list(Path(checkpoints.checkpoint_dir()).iterdir()) == []


def test_it_refuses_to_sign_a_head_that_is_not_the_last_stored_event(signing_key, events):
    events(3)
    remove_events_after(2)
    drop_ledger_triggers()
    LedgerHead.objects.filter(pk=1).update(sequence=3)
    with pytest.raises(CommandError, match=r"the ledger head \(#3, .*\) is not the event stored at its sequence"):
        call_command("ledger_checkpoint")
    assert checkpoints.checkpoint_files() == []


def test_it_refuses_to_sign_a_ledger_that_lost_the_latest_checkpoint(signing_key, events):
    events(3)
    first = checkpoint_now()
    remove_events_after(1)
    with pytest.raises(CommandError) as refused:
        call_command("ledger_checkpoint")
    assert str(refused.value).startswith("the ledger does not continue the latest checkpoint, so it is not signed: ")
    assert "events 2-3 are missing" in str(refused.value)
    assert checkpoints.checkpoint_files() == [first]


def test_a_new_checkpoint_never_replaces_an_old_one(signing_key, events):
    events(1)
    first = checkpoint_now()
    events(1)
    second = checkpoint_now()
    assert checkpoints.checkpoint_files() == [first, second]


# Verifying against checkpoints ---------------------------------------------------------------


def test_verify_ledger_says_how_many_checkpoints_agree(signing_key, events, capsys):
    events(2)
    checkpoint_now()
    events(1)
    latest = checkpoint_now()
    capsys.readouterr()
    call_command("verify_ledger")
    moment = json.loads(latest.read_text())["checkpoint"]["created_at"][:19]
    assert capsys.readouterr().out == (
        f"OK: 3 consent events, chain intact; 2 signed checkpoints agree (the latest: event #3, {moment}Z)\n"
    )


def test_verify_ledger_warns_when_there_is_no_checkpoint(db, events, capsys):
    events(1)
    call_command("verify_ledger")
    captured = capsys.readouterr()
    assert captured.out == "OK: 1 consent events, chain intact\n"
    assert "No signed checkpoints in" in captured.err


def test_it_names_the_missing_range_when_the_tail_was_removed(signing_key, events):
    events(5)
    path = checkpoint_now()
    remove_events_after(3)
    assert ledger.verify(checkpoint_dirs=[]).ok  # the chain alone cannot tell
    moment = json.loads(path.read_text())["checkpoint"]["created_at"][:19]
    assert verify_fails() == (
        f"BROKEN at event #4 (checkpoint {path.name}): events 4-5 are missing: the ledger ends at 3 "
        f"but checkpoint {path.name} of {moment}Z recorded 5"
    )


def test_it_names_the_rewritten_range_when_the_tail_was_replaced(signing_key, events):
    events(3)
    kept = checkpoint_now()
    events(2)
    lost = checkpoint_now()
    remove_events_after(3)
    replacements = events(2)  # the application appends again after the removal: 4 and 5 are new events
    check = ledger.verify()
    assert (check.ok, check.broken_sequence, check.broken_checkpoint) == (False, 4, lost.name)
    (reason,) = check.reasons
    assert reason.startswith(
        f"events 4-5 were rewritten: event 5 is stored with hash {replacements[-1].hash[:12]}… "
        f"but checkpoint {lost.name} of "
    )
    assert f"({checkpoints.read_checkpoint(kept).source}, which still agrees, recorded 3)" in reason


def test_a_rewrite_before_every_agreeing_checkpoint_is_named_from_the_first_event(signing_key, events):
    events(2)
    path = checkpoint_now()
    remove_events_after(0)
    events(3)
    assert "events 1-2 were rewritten: event 2 is stored with hash" in verify_fails()
    assert path.name in verify_fails()


def test_it_fails_a_checkpoint_whose_content_was_edited(signing_key, events):
    events(3)
    path = checkpoint_now()
    document = json.loads(path.read_text())
    document["checkpoint"]["sequence"] = 2  # "the ledger was shorter back then"
    path.write_text(json.dumps(document))
    message = verify_fails()
    assert f"checkpoint {path.name} is not valid: its signature does not verify" in message
    assert message.startswith(f"BROKEN at event #2 (checkpoint {path.name})")


def test_it_fails_a_checkpoint_signed_with_a_key_that_is_not_the_organisations(signing_key, events):
    events(1)
    path = checkpoint_now()
    document = json.loads(path.read_text())
    stranger = ec.generate_private_key(ec.SECP256R1())
    document["signature"]["value"] = base64.b64encode(
        stranger.sign(canonical_json(document["checkpoint"]), ec.ECDSA(hashes.SHA256()))
    ).decode()
    document["signature"]["certificate_sha256"] = "ab" * 32
    path.write_text(json.dumps(document))
    assert "that is not one of the organisation's" in verify_fails()


def test_it_fails_a_file_that_is_not_a_checkpoint(signing_key, events, settings):
    events(1)
    checkpoint_now()
    junk = Path(settings.LEDGER_CHECKPOINT_DIR) / "ledger-checkpoint-999.json"
    junk.write_text("{not json")
    message = verify_fails()
    assert message.startswith(f"BROKEN (checkpoint {junk.name}): checkpoint {junk.name} cannot be read")


def test_checkpoints_signed_before_a_key_rotation_still_verify(signing_key, events, capsys):
    events(1)
    checkpoint_now()
    call_command("create_signing_key", "--overwrite", "--common-name", "Next year's key")
    events(1)
    checkpoint_now()
    capsys.readouterr()
    call_command("verify_ledger")
    assert "2 signed checkpoints agree" in capsys.readouterr().out


def test_it_checks_a_copy_of_the_checkpoints_kept_elsewhere(signing_key, events, tmp_path, settings, capsys):
    events(3)
    path = checkpoint_now()
    copy = tmp_path / "offsite"
    copy.mkdir()
    (copy / path.name).write_bytes(path.read_bytes())
    path.unlink()  # the local folder lost it; the copy did not
    remove_events_after(2)
    with pytest.raises(CommandError, match="event 3 is missing: the ledger ends at 2"):
        call_command("verify_ledger", "--checkpoints", str(copy))
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("verify_ledger", "--checkpoints", str(tmp_path / "absent"))


def test_the_ledger_api_reports_a_failing_checkpoint(signing_key, events, api_as):
    events(3)
    path = checkpoint_now()
    remove_events_after(1)
    body = api_as("auditor").get("/api/v1/consent/ledger/verify").json()
    assert (body["ok"], body["broken_sequence"], body["broken_event_id"]) == (False, 2, f"(checkpoint {path.name})")
    assert body["reasons"][0].startswith("events 2-3 are missing: the ledger ends at 1 but checkpoint")


# The periodic task ---------------------------------------------------------------------------


def queued():
    return list(DBTaskResult.objects.filter(task_path=ledger_checkpoint_task.module_path,
                                            status=TaskResultStatus.READY))  # fmt: skip


def test_the_task_writes_a_checkpoint_and_queues_its_next_run(signing_key, events, settings):
    events(2)
    before = timezone.now()
    assert ledger_checkpoint_task.call().startswith("Checkpoint of event #2")
    assert len(checkpoints.checkpoint_files()) == 1
    (next_run,) = queued()
    interval = timedelta(seconds=settings.LEDGER_CHECKPOINT_INTERVAL)
    assert before + interval <= next_run.run_after <= timezone.now() + interval


def test_the_task_writes_nothing_while_the_head_stands_still(signing_key, events):
    events(1)
    ledger_checkpoint_task.call()
    assert ledger_checkpoint_task.call() == "the ledger head has not moved since the last checkpoint"
    assert len(checkpoints.checkpoint_files()) == 1
    assert len(queued()) == 1  # a queued run is not queued twice
    events(1)
    ledger_checkpoint_task.call()
    assert len(checkpoints.checkpoint_files()) == 2


def test_the_task_queues_its_next_run_even_when_it_fails(db, events):
    events(1)  # no signing key
    with pytest.raises(RuntimeError, match="create_signing_key"):
        ledger_checkpoint_task.call()
    assert len(queued()) == 1


def test_the_command_starts_the_periodic_task_once(signing_key, events, capsys):
    call_command("ledger_checkpoint", "--schedule")
    assert "Started the periodic checkpoint task" in capsys.readouterr().out
    call_command("ledger_checkpoint", "--schedule")
    assert "queued already" in capsys.readouterr().out
    assert len(queued()) == 1
    assert AuditLogEntry.objects.filter(action="ledger.checkpoint_schedule").count() == 1


# For reports ---------------------------------------------------------------------------------


def test_head_at_gives_the_last_event_recorded_by_a_moment(db, events):
    assert checkpoints.head_at(timezone.now()) == checkpoints.LedgerPosition(0, GENESIS_HASH)
    first = events(2)
    snapshot = timezone.now()
    events(1)
    assert checkpoints.head_at(snapshot) == checkpoints.LedgerPosition(2, first[-1].hash)
    head = LedgerHead.objects.get()
    assert checkpoints.head_at() == checkpoints.LedgerPosition(3, head.hash)


def test_an_embedded_head_the_ledger_still_holds_checks_out(db, events):
    made = events(3)
    assert checkpoints.check_embedded_head(sequence=2, hash=made[1].hash).ok
    assert checkpoints.check_embedded_head(sequence=0, hash=GENESIS_HASH).ok


def test_an_embedded_head_past_the_ledger_names_the_missing_events(db, events):
    made = events(3)
    remove_events_after(1)
    check = checkpoints.check_embedded_head(sequence=3, hash=made[2].hash, source="report BR-2026-Q4-0001")
    assert (check.ok, check.message) == (
        False, "events 2-3 are missing: the ledger ends at 1 but report BR-2026-Q4-0001 recorded 3",
    )  # fmt: skip


def test_an_embedded_head_with_another_hash_is_named_rewritten(db, events):
    events(2)
    check = checkpoints.check_embedded_head(sequence=2, hash="f" * 64)
    assert not check.ok
    assert check.message.startswith("events 1-2 were rewritten: event 2 is stored with hash ")
    assert check.message.endswith("but the report recorded ffffffffffff…")
