"""Hashing of the consent ledger.

Every consent event stores the hash of the event before it, and its own hash over a
canonical JSON of its content (sorted keys, no whitespace, UTF-8), so that changing,
removing or reordering any stored event breaks the chain at that event.

Erasure (GDPR Art. 17) must remove personal data without breaking the chain. Personal
fields (the subject's and guardian's references) are therefore not hashed directly: the
chain covers a *personal digest*, a SHA-256 over those fields salted with a random
per-subject salt. Erasure deletes the references and the salt and keeps the digest, so the
chain still verifies while the digest can no longer be linked back to anyone.
"""

import hashlib
from datetime import UTC, datetime

import orjson

GENESIS_HASH = "0" * 64


def canonical_json(value) -> bytes:
    """Sorted keys, no whitespace, UTF-8 without escaping non-ASCII: the same bytes as
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``,
    which a test holds, made by orjson because the ledger hashes millions of events.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def timestamp(value: datetime | str | None) -> str | None:
    """ISO 8601 in UTC with microseconds; a string is taken as already formatted by this function."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("ledger timestamps must be timezone-aware")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat() without arguments is several times faster than with timespec=, but drops
    # a zero microsecond part, which the canonical form always has.
    text = value.isoformat()
    return text if value.microsecond else f"{text[:-6]}.000000+00:00"


def personal_digest(*, salt: str, subject_reference: str, guardian_reference: str) -> str:
    # Length prefixes make the encoding unambiguous whatever characters the references hold.
    text = f"{salt}|{len(subject_reference)}:{subject_reference}|{len(guardian_reference)}:{guardian_reference}"
    return sha256_hex(text.encode("utf-8"))


def event_payload(
    *,
    sequence: int,
    event_id: str,
    subject_key: str,
    kind: str,
    purposes: list[str],
    notice: str | None,
    channel: str,
    collected_at: datetime,
    expires_at: datetime | None,
    recorded_at: datetime,
    evidence_hash: str,
    age_rule_version: str,
    personal_digest: str,
    prev_hash: str,
) -> dict:
    return {
        "age_rule_version": age_rule_version,
        "channel": channel,
        "collected_at": timestamp(collected_at),
        "event_id": event_id,
        "evidence_hash": evidence_hash,
        "expires_at": timestamp(expires_at),
        "kind": kind,
        "notice": notice,
        "personal_digest": personal_digest,
        "prev_hash": prev_hash,
        "purposes": sorted(purposes),
        "recorded_at": timestamp(recorded_at),
        "sequence": sequence,
        "subject_key": subject_key,
    }


def event_hash(payload: dict) -> str:
    return sha256_hex(canonical_json(payload))
