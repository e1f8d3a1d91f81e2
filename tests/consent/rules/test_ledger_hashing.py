import json
import random
import string
from datetime import UTC, datetime, timedelta, timezone

from consent.rules import ledger


def payload(**overrides):
    values = dict(
        sequence=1, event_id="EV-1", subject_key="k", kind="grant", purposes=["evaluation", "bias_audit"],
        notice="1/en", channel="web_form", collected_at=datetime(2025, 1, 1, tzinfo=UTC), expires_at=None,
        recorded_at=datetime(2025, 1, 2, tzinfo=UTC), evidence_hash="", age_rule_version="eu-2024.1",
        personal_digest="d" * 64, prev_hash=ledger.GENESIS_HASH,
    )  # fmt: skip
    return ledger.event_payload(**{**values, **overrides})


def test_canonical_json_is_the_sorted_compact_utf8_form():
    rng = random.Random(5)
    alphabet = string.printable + 'é"\\\x00\x1f\u2028😀'
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        value = payload(event_id=text, purposes=[text, "x"], notice=rng.choice([None, text]))
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert ledger.canonical_json(value) == expected


def test_timestamps_are_utc_with_microseconds():
    paris = timezone(timedelta(hours=1))
    assert ledger.timestamp(datetime(2025, 1, 1, 1, tzinfo=paris)) == "2025-01-01T00:00:00.000000+00:00"
    assert ledger.timestamp(datetime(2025, 1, 1, 0, 0, 0, 5, tzinfo=UTC)) == "2025-01-01T00:00:00.000005+00:00"


def test_the_hash_changes_with_any_field():
    base = ledger.event_hash(payload())
    assert ledger.event_hash(payload(kind="withdrawal")) != base
    assert ledger.event_hash(payload(prev_hash="1" * 64)) != base
    assert ledger.event_hash(payload(purposes=["bias_audit", "evaluation"])) == base  # purposes are a set


def test_the_personal_digest_depends_on_the_salt_and_both_references():
    digest = ledger.personal_digest(salt="a" * 32, subject_reference="S1", guardian_reference="")
    assert digest != ledger.personal_digest(salt="b" * 32, subject_reference="S1", guardian_reference="")
    assert digest != ledger.personal_digest(salt="a" * 32, subject_reference="S2", guardian_reference="")
    assert digest != ledger.personal_digest(salt="a" * 32, subject_reference="S1", guardian_reference="G")
    # Length prefixes keep "S1|" + "" apart from "S" + "1|".
    assert ledger.personal_digest(salt="s", subject_reference="a|1:b", guardian_reference="") != ledger.personal_digest(
        salt="s", subject_reference="a", guardian_reference="b"
    )
