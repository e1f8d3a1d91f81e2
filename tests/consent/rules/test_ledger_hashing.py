import hashlib
import json
import random
import string
from datetime import UTC, datetime, timedelta, timezone

import pytest

from consent.rules import ledger

FIELDS = dict(
    sequence=1, event_id="EV-1", subject_key="6f1c1d2e-0000-4000-8000-000000000001", kind="grant",
    purposes=["evaluation", "bias_audit"], notice="1/en", channel="web_form",
    collected_at=datetime(2025, 1, 1, tzinfo=UTC), expires_at=None, recorded_at=datetime(2025, 1, 2, tzinfo=UTC),
    evidence_hash="", age_rule_version="eu-2024.1", personal_digest="d" * 64, prev_hash=ledger.GENESIS_HASH,
)  # fmt: skip


def payload(**overrides):
    return ledger.event_payload(**{**FIELDS, **overrides})


def test_the_canonical_form_of_an_event_is_fixed():
    # Changing this form would break every ledger already recorded: this is the contract.
    assert ledger.canonical_json(payload()) == (
        b'{"age_rule_version":"eu-2024.1","channel":"web_form","collected_at":"2025-01-01T00:00:00.000000+00:00",'
        b'"event_id":"EV-1","evidence_hash":"","expires_at":null,"kind":"grant","notice":"1/en",'
        b'"personal_digest":"' + b"d" * 64 + b'","prev_hash":"' + b"0" * 64 + b'",'
        b'"purposes":["bias_audit","evaluation"],"recorded_at":"2025-01-02T00:00:00.000000+00:00","sequence":1,'
        b'"subject_key":"6f1c1d2e-0000-4000-8000-000000000001"}'
    )
    assert ledger.event_hash(payload()) == hashlib.sha256(ledger.canonical_json(payload())).hexdigest()


def test_canonical_json_is_the_sorted_compact_utf8_form():
    rng = random.Random(5)
    alphabet = string.printable + 'é"\\\x00\x1f\u2028😀'
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        value = payload(event_id=text, purposes=[text, "x"], notice=rng.choice([None, text]))
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert ledger.canonical_json(value) == expected


def test_canonical_json_does_not_depend_on_key_order():
    value = payload()
    reversed_value = dict(reversed(list(value.items())))
    assert ledger.canonical_json(reversed_value) == ledger.canonical_json(value)
    nested = {"b": {"y": 1, "x": [3, {"d": 1, "c": 2}]}, "a": "é"}
    assert ledger.canonical_json(nested) == '{"a":"é","b":{"x":[3,{"c":2,"d":1}],"y":1}}'.encode()


def test_the_same_event_always_hashes_alike():
    assert ledger.event_hash(payload()) == ledger.event_hash(payload())
    assert len(ledger.event_hash(payload())) == 64


def test_timestamps_are_utc_with_microseconds():
    paris = timezone(timedelta(hours=1))
    assert ledger.timestamp(datetime(2025, 1, 1, 1, tzinfo=paris)) == "2025-01-01T00:00:00.000000+00:00"
    assert ledger.timestamp(datetime(2025, 1, 1, 0, 0, 0, 5, tzinfo=UTC)) == "2025-01-01T00:00:00.000005+00:00"
    assert ledger.timestamp(None) is None
    assert ledger.timestamp("2025-01-01T00:00:00.000000+00:00") == "2025-01-01T00:00:00.000000+00:00"


def test_the_same_instant_in_any_offset_hashes_alike():
    paris = timezone(timedelta(hours=1))
    assert ledger.event_hash(payload(collected_at=datetime(2025, 1, 1, 1, tzinfo=paris))) == ledger.event_hash(
        payload()
    )


def test_a_naive_timestamp_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.timestamp(datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sequence", 2), ("event_id", "EV-2"), ("subject_key", "other"), ("kind", "withdrawal"),
        ("purposes", ["evaluation"]), ("notice", "2/en"), ("channel", "email"),
        ("collected_at", datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC)), ("expires_at", datetime(2026, 1, 1, tzinfo=UTC)),
        ("recorded_at", datetime(2025, 1, 3, tzinfo=UTC)), ("evidence_hash", "a" * 64), ("age_rule_version", "x"),
        ("personal_digest", "e" * 64), ("prev_hash", "1" * 64),
    ],
)  # fmt: skip
def test_the_hash_changes_with_any_field(field, value):
    assert ledger.event_hash(payload(**{field: value})) != ledger.event_hash(payload())


def test_purposes_are_hashed_as_a_set():
    assert ledger.event_hash(payload(purposes=["bias_audit", "evaluation"])) == ledger.event_hash(payload())


def test_the_personal_digest_depends_on_the_salt():
    digest = ledger.personal_digest(salt="a" * 32, subject_reference="S1", guardian_reference="")
    assert digest != ledger.personal_digest(salt="b" * 32, subject_reference="S1", guardian_reference="")
    assert digest != ledger.personal_digest(salt="", subject_reference="S1", guardian_reference="")
    assert digest == ledger.personal_digest(salt="a" * 32, subject_reference="S1", guardian_reference="")


def test_the_personal_digest_depends_on_both_references():
    digest = ledger.personal_digest(salt="a" * 32, subject_reference="S1", guardian_reference="")
    assert digest != ledger.personal_digest(salt="a" * 32, subject_reference="S2", guardian_reference="")
    assert digest != ledger.personal_digest(salt="a" * 32, subject_reference="S1", guardian_reference="G")


def test_the_personal_digest_cannot_be_confused_by_separators_in_references():
    assert ledger.personal_digest(salt="s", subject_reference="a|1:b", guardian_reference="") != ledger.personal_digest(
        salt="s", subject_reference="a", guardian_reference="b"
    )


def test_the_personal_digest_is_not_the_plain_hash_of_the_reference():
    digest = ledger.personal_digest(salt="a" * 32, subject_reference="S1", guardian_reference="")
    assert digest != hashlib.sha256(b"S1").hexdigest()
    assert "S1" not in digest


def test_the_chain_starts_from_the_genesis_hash():
    assert ledger.GENESIS_HASH == "0" * 64
