"""Appending to and verifying the hash-chained consent ledger (rules in consent/rules/ledger.py)."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from consent import checkpoints
from consent.models import ConsentEvent, GuardianConsent, ImportBatch, LedgerHead, Notice, Subject
from consent.rules import ledger as chain
from consent.rules.purposes import mask_of
from core.bulk import datetime_adapter, db_json, insert_rows


@dataclass
class NewEvent:
    """An event that passed the rules and is ready to be chained and stored."""

    event_id: str
    subject: Subject
    kind: str
    purposes: list[str]
    mask: int
    channel: str
    collected_at: datetime
    expires_at: datetime | None = None
    notice: Notice | None = None
    evidence_hash: str = ""
    guardian_reference: str = ""
    age_rule_version: str = ""
    import_batch: ImportBatch | None = None


def append(new_events: list[NewEvent]) -> range:
    """Chain and store events in the given order; returns their sequence numbers.

    The caller holds the transaction. Locking the ledger head serialises appends, so two
    writers can never chain onto the same previous event.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.append must run inside the service's transaction")
    head = LedgerHead.objects.select_for_update().get(pk=1)
    recorded_at = timezone.now()
    db_datetime = datetime_adapter()
    recorded_db, recorded_text = db_datetime(recorded_at), chain.timestamp(recorded_at)
    subject_keys: dict[int, str] = {}
    sequence, prev_hash = head.sequence, head.hash
    guardians: dict[int, str] = {}
    purposes_json: dict[tuple, str] = {}

    def rows():
        nonlocal sequence, prev_hash
        for new in new_events:
            sequence += 1
            subject_key = subject_keys.get(new.subject.pk)
            if subject_key is None:  # str(UUID) is slow enough to matter over a million events
                subject_key = subject_keys[new.subject.pk] = str(new.subject.key)
            digest = chain.personal_digest(
                salt=new.subject.salt,
                subject_reference=new.subject.reference,
                guardian_reference=new.guardian_reference,
            )
            payload = chain.event_payload(
                sequence=sequence,
                event_id=new.event_id,
                subject_key=subject_key,
                kind=new.kind,
                purposes=new.purposes,
                notice=new.notice.label if new.notice else None,
                channel=new.channel,
                collected_at=new.collected_at,
                expires_at=new.expires_at,
                recorded_at=recorded_text,
                evidence_hash=new.evidence_hash,
                age_rule_version=new.age_rule_version,
                personal_digest=digest,
                prev_hash=prev_hash,
            )
            event_hash = chain.event_hash(payload)
            purposes = tuple(payload["purposes"])
            if purposes not in purposes_json:
                purposes_json[purposes] = db_json(payload["purposes"])
            if new.guardian_reference:
                guardians[sequence] = new.guardian_reference
            yield (
                sequence, new.event_id, new.subject.pk, new.kind, purposes_json[purposes], new.mask,
                new.notice.pk if new.notice else None, new.channel, db_datetime(new.collected_at),
                db_datetime(new.expires_at), recorded_db, new.evidence_hash, new.age_rule_version, digest,
                prev_hash, event_hash, new.import_batch.pk if new.import_batch else None,
            )  # fmt: skip
            prev_hash = event_hash

    first = head.sequence + 1
    insert_rows(ConsentEvent, _EVENT_COLUMNS, rows())
    if guardians:
        insert_rows(GuardianConsent, ["event", "reference"], guardians.items())
    LedgerHead.objects.filter(pk=1).update(sequence=sequence, hash=prev_hash)
    return range(first, sequence + 1)


_EVENT_COLUMNS = [
    "sequence", "event_id", "subject", "kind", "purposes", "purpose_mask", "notice", "channel", "collected_at",
    "expires_at", "recorded_at", "evidence_hash", "age_rule_version", "personal_digest", "prev_hash", "hash",
    "import_batch",
]  # fmt: skip


@dataclass
class LedgerCheck:
    count: int = 0
    broken_sequence: int | None = None
    broken_event_id: str = ""
    reasons: list[str] = field(default_factory=list)
    broken_checkpoint: str = ""  # the file name of the first failing checkpoint, when the chain itself holds
    agreeing_checkpoints: int = 0  # signed checkpoints that the ledger still holds
    latest_checkpoint: checkpoints.Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return self.broken_sequence is None and not self.reasons

    def summary(self) -> str:
        if self.ok:
            text = f"OK: {self.count} consent events, chain intact"
            if self.latest_checkpoint is not None:
                latest = self.latest_checkpoint
                n = self.agreeing_checkpoints
                text += f"; {n} signed checkpoint{'s agree' if n != 1 else ' agrees'}"
                text += f" (the latest: event #{latest.sequence}, {latest.moment})"
            return text
        where = "" if self.broken_sequence is None else f" at event #{self.broken_sequence}"
        what = f"checkpoint {self.broken_checkpoint}" if self.broken_checkpoint else f"event id {self.broken_event_id}"
        return f"BROKEN{where} ({what}): " + "; ".join(self.reasons)


_VERIFY_FIELDS = (
    "sequence",
    "event_id",
    "subject__key",
    "subject__reference",
    "subject__salt",
    "kind",
    "purposes",
    "notice__version",
    "notice__language",
    "channel",
    "collected_at",
    "expires_at",
    "recorded_at",
    "evidence_hash",
    "age_rule_version",
    "personal_digest",
    "prev_hash",
    "hash",
    "guardian__reference",
    "purpose_mask",
    "subject__erased_at",
)


def verify(*, checkpoint_dirs: list[Path] | None = None) -> LedgerCheck:
    """Recompute every event's hash in order, stopping at the first event that does not match; then
    compare the ledger with every signed checkpoint in `checkpoint_dirs` (default: LEDGER_CHECKPOINT_DIR).

    A checkpoint that does not verify, or that the ledger no longer holds, breaks the check too: the
    first failing one gives `broken_sequence` (the first event of the range it names) when the chain
    itself is intact, and each one adds its reason.
    """
    check = _verify_chain()
    report = checkpoints.check_checkpoints(checkpoint_dirs)
    check.agreeing_checkpoints, check.latest_checkpoint = len(report.agreeing), report.latest
    if report.problems:
        if check.ok:
            first = report.problems[0]
            check.broken_sequence = first.first_sequence
            check.broken_checkpoint = first.path.name
            check.broken_event_id = f"(checkpoint {first.path.name})"
        check.reasons += [problem.message for problem in report.problems]
    return check


def _verify_chain() -> LedgerCheck:
    check = LedgerCheck()
    expected_prev = chain.GENESIS_HASH
    expected_sequence = 0
    rows = ConsentEvent.objects.order_by("sequence").values_list(*_VERIFY_FIELDS).iterator(chunk_size=20_000)
    for row in rows:
        (sequence, event_id, key, reference, salt, kind, purposes, notice_version, notice_language, channel,
         collected_at, expires_at, recorded_at, evidence_hash, age_rule_version, digest, prev_hash, stored_hash,
         guardian, purpose_mask, erased_at) = row  # fmt: skip
        expected_sequence += 1
        reasons = []
        if sequence != expected_sequence:
            reasons.append(f"expected sequence {expected_sequence}: an event is missing or out of place")
        if prev_hash != expected_prev:
            reasons.append("its previous-event hash does not match the event before it")
        if salt:  # not erased: the personal digest must still match the stored references
            recomputed = chain.personal_digest(
                salt=salt, subject_reference=reference or "", guardian_reference=guardian or ""
            )
            if recomputed != digest:
                reasons.append("the subject's or guardian's reference no longer matches the recorded digest")
        elif erased_at is None or reference is not None:
            reasons.append("its subject's salt is gone but the subject was not erased")
        try:
            recorded_mask = mask_of(purposes)
        except ValueError:
            recorded_mask = None
        if recorded_mask != purpose_mask:
            # The mask is what the consent queries read; it must say what the hashed purposes say.
            reasons.append("its purpose mask does not match its recorded purposes")
        payload = chain.event_payload(
            sequence=sequence,
            event_id=event_id,
            subject_key=str(key),
            kind=kind,
            purposes=purposes,
            notice=f"{notice_version}/{notice_language}" if notice_version else None,
            channel=channel,
            collected_at=collected_at,
            expires_at=expires_at,
            recorded_at=recorded_at,
            evidence_hash=evidence_hash,
            age_rule_version=age_rule_version,
            personal_digest=digest,
            prev_hash=prev_hash,
        )
        if chain.event_hash(payload) != stored_hash:
            reasons.append("its content does not match its stored hash")
        if reasons:
            check.broken_sequence, check.broken_event_id, check.reasons = sequence, event_id, reasons
            return check
        check.count += 1
        expected_prev = stored_hash
    head = LedgerHead.objects.get(pk=1)
    if (head.sequence, head.hash) != (expected_sequence, expected_prev):
        check.broken_sequence = head.sequence
        check.broken_event_id = "(ledger head)"
        check.reasons = [
            f"the ledger head records {head.sequence} events ending in {head.hash[:12]}…, "
            f"but the stored chain has {expected_sequence} ending in {expected_prev[:12]}…: events were removed"
        ]
    return check
