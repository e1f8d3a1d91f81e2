"""Every write to consent and provenance data. Each runs in one transaction with its audit-log entry."""

import uuid
from datetime import date, datetime
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from consent import features, ledger
from consent.errors import RuleViolation
from consent.models import (
    CHANNEL_VALUES,
    AttributeSchema,
    Channel,
    ConsentEvent,
    CopyrightStatus,
    DataItem,
    Dataset,
    EventKind,
    GuardianConsent,
    Notice,
    Source,
    Subject,
)
from consent.rules import events as rules
from consent.rules.attribute_schema import AttributeSchema as AttributeRules
from consent.rules.attribute_schema import SchemaError
from consent.rules.countries import normalise_country
from consent.rules.ledger import sha256_hex
from consent.rules.licences import normalise_licence
from consent.rules.purposes import ALL_PURPOSES_MASK, mask_of, parse_purposes, purpose_values_of
from core import audit_log
from core.audit_log import Actor
from core.files import delete_on_commit, removed_unless_committed

EVENT_ID_CONFLICT = "event id {event_id!r} is already recorded with different content"


def _parse_or_violate(field: str, parse, value):
    try:
        return parse(value)
    except ValueError as exc:
        raise RuleViolation([(field, str(exc))]) from None


# Notices -----------------------------------------------------------------------------------


def publish_notice(
    *,
    actor: Actor,
    version: str,
    language: str,
    title: str,
    text: str,
    purposes: list[str],
    published_at: datetime | None = None,
) -> Notice:
    offered = _parse_or_violate("purposes", parse_purposes, purposes)
    if not offered:
        raise RuleViolation([("purposes", "a notice must offer at least one purpose")])
    if not text.strip():
        raise RuleViolation([("text", "the notice text is empty")])
    with transaction.atomic():
        if Notice.objects.filter(version=version, language=language).exists():
            raise RuleViolation([("version", f"notice {version}/{language} already exists; publish a new version")])
        notice = Notice.objects.create(
            version=version,
            language=language,
            title=title,
            text=text,
            text_hash=sha256_hex(text.encode("utf-8")),
            purposes=[p.value for p in offered],
            published_at=published_at or timezone.now(),
        )
        audit_log.record(
            actor=actor, action="notice.publish", object_type="notice", object_id=notice.pk, after=notice.audit_view()
        )
    return notice


# Subjects and consent events ------------------------------------------------------------------


def register_subject(*, actor: Actor, reference: str, jurisdiction: str, birth_month: date) -> Subject:
    reference = reference.strip()
    if not reference:
        raise RuleViolation([("subject", "the subject reference is empty")])
    country = _parse_or_violate("jurisdiction", normalise_country, jurisdiction)
    if birth_month > timezone.now().date():
        raise RuleViolation([("birth_month", "the birth month is in the future")])
    with transaction.atomic():
        if Subject.objects.filter(reference=reference).exists():
            raise RuleViolation([("subject", f"subject {reference!r} already exists")])
        subject = Subject.objects.create(
            reference=reference, jurisdiction=country, birth_month=birth_month.replace(day=1)
        )
        audit_log.record(
            actor=actor, action="subject.register", object_type="subject", object_id=subject.pk,
            after=subject.audit_view(),
        )  # fmt: skip
    return subject


def history_of(subject: Subject) -> list[rules.PastEvent]:
    return [
        rules.PastEvent(collected_at=at, kind=kind, mask=mask)
        for at, kind, mask in subject.events.order_by("collected_at", "sequence").values_list(
            "collected_at", "kind", "purpose_mask"
        )
    ]


def subject_facts(subject: Subject) -> rules.SubjectFacts:
    return rules.SubjectFacts(
        jurisdiction=subject.jurisdiction, birth_month=subject.birth_month, erased=subject.is_erased
    )


def notice_facts(notice: Notice) -> rules.NoticeFacts:
    return rules.NoticeFacts(label=notice.label, purposes=frozenset(notice.purposes), published_at=notice.published_at)


def _record_event(
    *,
    actor: Actor,
    subject: Subject,
    kind: str,
    purposes: list[str],
    channel: str,
    collected_at: datetime | None,
    event_id: str | None,
    notice: Notice | None = None,
    expires_at: datetime | None = None,
    evidence_hash: str = "",
    guardian_reference: str = "",
) -> ConsentEvent:
    if channel not in CHANNEL_VALUES:
        raise RuleViolation([("channel", f"unknown channel {channel!r}; use one of {', '.join(Channel.values)}")])
    parsed = tuple(_parse_or_violate("purposes", parse_purposes, purposes))
    # A retried call without a collection time must still match the event the first call recorded.
    collected_at_given = collected_at is not None
    collected_at = collected_at or timezone.now()
    event_id = (event_id or str(uuid.uuid4())).strip()
    proposed = rules.ProposedEvent(
        kind=kind,
        purposes=parsed,
        collected_at=collected_at,
        expires_at=expires_at,
        notice=notice_facts(notice) if notice else None,
        guardian_reference=guardian_reference.strip(),
        evidence_hash=evidence_hash.strip().lower(),
    )
    # On PostgreSQL the event-id check holds only the subject's lock: a concurrent request for another
    # subject may record the same id between the check and the insert. The unique index refuses the
    # second insert; checking again then gives the answer the check would have given (a replay or 409).
    for attempt in (1, 2):
        try:
            return _record_once(
                actor, subject, proposed, event_id=event_id, channel=channel, notice=notice,
                compare_time=collected_at_given,
            )  # fmt: skip
        except IntegrityError:
            if attempt == 2 or _event_with_id(event_id) is None:
                raise


def _record_once(
    actor: Actor, subject: Subject, proposed: rules.ProposedEvent, *, event_id: str, channel: str,
    notice: Notice | None, compare_time: bool,
) -> ConsentEvent:  # fmt: skip
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        existing = _event_with_id(event_id)
        if existing is not None:
            if _same_event(existing, subject, proposed, channel, notice, compare_time=compare_time):
                existing.replayed = True  # lets the caller (e.g. the API) tell a repeat from a first recording
                return existing
            raise RuleViolation([("event_id", EVENT_ID_CONFLICT.format(event_id=event_id))])
        verdict = rules.check_event(
            proposed, subject=subject_facts(subject), history=history_of(subject), now=timezone.now()
        )
        if not verdict.ok:
            raise RuleViolation(verdict.problems)
        [sequence] = ledger.append(
            [
                ledger.NewEvent(
                    event_id=event_id,
                    subject=subject,
                    kind=proposed.kind,
                    purposes=purpose_values_of(verdict.mask),
                    mask=verdict.mask,
                    channel=channel,
                    collected_at=proposed.collected_at,
                    expires_at=proposed.expires_at,
                    notice=notice,
                    evidence_hash=proposed.evidence_hash,
                    guardian_reference=proposed.guardian_reference,
                    age_rule_version=verdict.age_rule_version,
                )
            ]
        )
        event = ConsentEvent.objects.get(pk=sequence)
        event.replayed = False
        audit_log.record(
            actor=actor,
            action=f"consent.{proposed.kind}",
            object_type="consent_event",
            object_id=event.pk,
            after={
                "subject": str(subject.key),
                "event_id": event.event_id,
                "sequence": event.sequence,
                "purposes": event.purposes,
                "hash": event.hash,
            },
        )
    return event


def _event_with_id(event_id: str) -> ConsentEvent | None:
    return ConsentEvent.objects.filter(event_id=event_id).first()


def _same_event(
    existing: ConsentEvent, subject, proposed: rules.ProposedEvent, channel, notice, *, compare_time
) -> bool:
    guardian = getattr(existing, "guardian", None)
    covers_all = proposed.kind == EventKind.ERASURE or (proposed.kind == EventKind.WITHDRAWAL and not proposed.purposes)
    requested_mask = ALL_PURPOSES_MASK if covers_all else mask_of(proposed.purposes)
    return (
        existing.subject_id == subject.pk
        and existing.kind == proposed.kind
        and existing.purpose_mask == requested_mask
        and existing.channel == channel
        and (existing.collected_at == proposed.collected_at or not compare_time)
        and existing.expires_at == proposed.expires_at
        and existing.notice_id == (notice.pk if notice else None)
        and existing.evidence_hash == proposed.evidence_hash
        and (guardian.reference if guardian else "") == proposed.guardian_reference
    )


def grant_consent(
    *,
    actor: Actor,
    subject: Subject,
    purposes: list[str],
    notice: Notice,
    channel: str,
    collected_at: datetime | None = None,
    expires_at: datetime | None = None,
    evidence_hash: str = "",
    guardian_reference: str = "",
    event_id: str | None = None,
) -> ConsentEvent:
    """Record a grant. Repeating a call with the same event id and content returns the first event."""
    return _record_event(
        actor=actor, subject=subject, kind=EventKind.GRANT, purposes=purposes, channel=channel,
        collected_at=collected_at, event_id=event_id, notice=notice, expires_at=expires_at,
        evidence_hash=evidence_hash, guardian_reference=guardian_reference,
    )  # fmt: skip


def withdraw_consent(
    *,
    actor: Actor,
    subject: Subject,
    channel: str,
    purposes: list[str] | None = None,
    collected_at: datetime | None = None,
    event_id: str | None = None,
) -> ConsentEvent:
    """Record a withdrawal of some purposes, or of all of them when `purposes` is empty."""
    return _record_event(
        actor=actor, subject=subject, kind=EventKind.WITHDRAWAL, purposes=purposes or [], channel=channel,
        collected_at=collected_at, event_id=event_id,
    )  # fmt: skip


def erase_subject(
    *,
    actor: Actor,
    subject: Subject,
    channel: str,
    collected_at: datetime | None = None,
    event_id: str | None = None,
) -> ConsentEvent:
    """GDPR Art. 17: withdraw everything and remove the subject's personal data and item files.

    The erasure is itself a ledger event. The ledger keeps verifying because it covers only a
    salted digest of the references, and the salt goes with them.
    """
    with removed_unless_committed() as written, transaction.atomic():
        event = _record_event(
            actor=actor, subject=subject, kind=EventKind.ERASURE, purposes=[], channel=channel,
            collected_at=collected_at, event_id=event_id,
        )  # fmt: skip
        subject = Subject.objects.get(pk=subject.pk)
        if not subject.is_erased:  # else: the same erasure request, repeated
            erase_personal_data(actor=actor, subject=subject, written=written)
    return event


def erase_personal_data(*, actor: Actor, subject: Subject, written: list[Path]) -> None:
    """The effects of an erasure event, shared by the service and the consent importer.

    The caller holds the transaction and collects new files in `written`.
    """
    items = list(subject.items.filter(erased_at__isnull=True).select_related("feature_file__dataset"))
    _erase_items(items, written=written)
    guardians = GuardianConsent.objects.filter(event__subject=subject)
    guardian_count = guardians.count()
    guardians.delete()
    subject.reference = None
    subject.jurisdiction = ""
    subject.birth_month = None
    subject.salt = ""
    subject.erased_at = timezone.now()
    subject.save(update_fields=["reference", "jurisdiction", "birth_month", "salt", "erased_at"])
    audit_log.record(
        actor=actor,
        action="subject.erase",
        object_type="subject",
        object_id=subject.pk,
        before={"items": len(items), "guardians": guardian_count},
        after=subject.audit_view(),
    )


def _erase_items(items: list[DataItem], *, written: list[Path]) -> None:
    by_feature_file = {}
    now = timezone.now()
    for item in items:
        if item.feature_file_id:
            by_feature_file.setdefault(item.feature_file_id, (item.feature_file, set()))[1].add(item.pk)
        if item.image:
            # Images are stored content-addressed: another subject's item may hold the same file.
            shared = DataItem.objects.filter(image=item.image.name).exclude(pk__in=[i.pk for i in items]).exists()
            if not shared:
                delete_on_commit(Path(item.image.path))
            item.image = ""
        item.attributes = {}
        item.content_hash = ""
        item.erased_at = now
    for feature_file, item_ids in by_feature_file.values():
        features.remove_items(feature_file, item_ids, written=written)
    DataItem.objects.bulk_update(items, ["image", "attributes", "content_hash", "erased_at"])


# Provenance ----------------------------------------------------------------------------------


def register_attribute_schema(*, actor: Actor, name: str, version: str, definition: dict) -> AttributeSchema:
    try:
        AttributeRules.from_json(definition)
    except SchemaError as exc:
        raise RuleViolation([("definition", str(exc))]) from None
    with transaction.atomic():
        if AttributeSchema.objects.filter(name=name, version=version).exists():
            raise RuleViolation([("version", f"attribute schema {name} v{version} already exists")])
        schema = AttributeSchema.objects.create(name=name, version=version, definition=definition)
        audit_log.record(
            actor=actor, action="attribute_schema.register", object_type="attribute_schema",
            object_id=schema.pk, after=schema.audit_view(),
        )  # fmt: skip
    return schema


def register_dataset(
    *,
    actor: Actor,
    name: str,
    version: str,
    attribute_schema: AttributeSchema,
    motivation: str,
    collection_process: str,
    known_limitations: str,
) -> Dataset:
    missing = [
        (field, "the datasheet needs this field")
        for field, value in (
            ("motivation", motivation),
            ("collection_process", collection_process),
            ("known_limitations", known_limitations),
        )
        if not value.strip()
    ]
    if missing:
        raise RuleViolation(missing)
    with transaction.atomic():
        if Dataset.objects.filter(name=name, version=version).exists():
            raise RuleViolation([("version", f"dataset {name} v{version} already exists")])
        dataset = Dataset.objects.create(
            name=name,
            version=version,
            attribute_schema=attribute_schema,
            motivation=motivation,
            collection_process=collection_process,
            known_limitations=known_limitations,
        )
        audit_log.record(
            actor=actor, action="dataset.register", object_type="dataset", object_id=dataset.pk,
            after=dataset.audit_view(),
        )  # fmt: skip
    return dataset


def add_source(
    *,
    actor: Actor,
    dataset: Dataset,
    name: str,
    origin: str,
    licence: str,
    copyright_status: str,
    collection_start: date,
    collection_end: date | None = None,
) -> Source:
    problems = []
    try:
        licence = normalise_licence(licence)
    except ValueError as exc:
        problems.append(("licence", str(exc)))
    if copyright_status not in CopyrightStatus.values:
        problems.append(
            ("copyright_status", f"unknown status {copyright_status!r}; use one of {', '.join(CopyrightStatus.values)}")
        )
    if collection_end is not None and collection_end < collection_start:
        problems.append(("collection_end", "the collection period ends before it starts"))
    if not origin.strip():
        problems.append(("origin", "say where the data came from"))
    if problems:
        raise RuleViolation(problems)
    with transaction.atomic():
        if Source.objects.filter(dataset=dataset, name=name).exists():
            raise RuleViolation([("name", f"dataset {dataset} already has a source named {name!r}")])
        source = Source.objects.create(
            dataset=dataset,
            name=name,
            origin=origin,
            licence=licence,
            copyright_status=copyright_status,
            collection_start=collection_start,
            collection_end=collection_end,
        )
        audit_log.record(
            actor=actor, action="source.add", object_type="source", object_id=source.pk, after=source.audit_view()
        )
    return source
