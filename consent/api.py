"""Consent endpoints (mounted at /api/v1/consent/ by config/api.py).

Systems that collect consent record grants, withdrawals and erasures here. Each request carries the
client's own `event_id`: the first request records the event (201); the same request again returns the
same event (200) and stores nothing; a different request under a used event id is refused (409, field
"event_id"). Reads: a subject's current consent and history, data items with their provenance, and the
ledger check.
"""

from contextlib import contextmanager
from datetime import date, datetime

from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import AwareDatetime

from consent import ledger, selectors, services
from consent.errors import RuleViolation
from consent.models import ConsentEvent, DataItem, EventKind, Notice, Subject
from core.api import FieldError, PageNumberPages, allowed
from core.audit_log import Actor

router = Router()

EVENT_ID_FIELD = Field(
    ..., min_length=1, max_length=100, description="Your id for this event; repeating it repeats the request."
)
UNKNOWN_SUBJECT = "no subject with reference {reference!r}"
UNKNOWN_NOTICE = "no notice {label!r} has been published"
AMBIGUOUS_NOTICE = "notice version {version!r} exists in several languages ({languages}); give notice_language"
UNKNOWN_DATASET = "no dataset {label!r}"


# Schemas ---------------------------------------------------------------------------------------


class GrantIn(Schema):
    event_id: str = EVENT_ID_FIELD
    subject: str = Field(..., min_length=1, max_length=128, description="The subject's pseudonymous reference.")
    purposes: list[str] = Field(..., description="Purposes granted, e.g. evaluation, bias_audit.")
    notice_version: str = Field(..., min_length=1, max_length=32, description="The notice the subject was shown.")
    notice_language: str | None = Field(None, max_length=16, description="Needed when the version has several.")
    channel: str = "api"
    collected_at: AwareDatetime | None = Field(None, description="When the subject consented; default: now.")
    expires_at: AwareDatetime | None = None
    guardian_reference: str = Field("", max_length=128, description="Needed below the age of digital consent.")
    evidence_hash: str = Field("", max_length=64, description="SHA-256 of the signed form or capture.")


class WithdrawIn(Schema):
    event_id: str = EVENT_ID_FIELD
    subject: str = Field(..., min_length=1, max_length=128)
    purposes: list[str] = Field(default_factory=list, description="Purposes withdrawn; empty withdraws all.")
    channel: str = "api"
    collected_at: AwareDatetime | None = None


class EraseIn(Schema):
    event_id: str = EVENT_ID_FIELD
    subject: str = Field(..., min_length=1, max_length=128)
    channel: str = "api"
    collected_at: AwareDatetime | None = None


class EventOut(Schema):
    event_id: str
    sequence: int
    kind: str
    purposes: list[str]
    subject: str | None = Field(description="The subject's reference; null once the subject is erased.")
    notice: str | None = Field(description="version/language of the notice, for grants.")
    channel: str
    collected_at: datetime
    expires_at: datetime | None
    recorded_at: datetime
    evidence_hash: str
    guardian_reference: str | None
    prev_hash: str
    hash: str


class PurposeStateOut(Schema):
    purpose: str
    active: bool
    since: datetime | None
    expires_at: datetime | None
    last_event_id: str | None


class SubjectOut(Schema):
    reference: str
    jurisdiction: str
    as_of: datetime
    consent: list[PurposeStateOut]
    events: list[EventOut]


class ProvenanceOut(Schema):
    source: str
    origin: str
    licence: str
    copyright_status: str
    collection_start: date
    collection_end: date | None


class ItemOut(Schema):
    item_ref: str
    dataset: str
    dataset_version: str
    kind: str
    subject: str | None
    content_hash: str
    erased: bool
    provenance: ProvenanceOut
    attributes: dict | None = Field(
        description="Protected attributes; null unless your role may read them (each read is logged)."
    )


class LedgerCheckOut(Schema):
    ok: bool
    count: int
    broken_sequence: int | None
    broken_event_id: str
    reasons: list[str]
    summary: str


class ErrorOut(Schema):
    message: str
    field: str | None


ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# Recording events ------------------------------------------------------------------------------


@router.post(
    "events/grant",
    auth=allowed("consent.add_consentevent"),
    response={200: EventOut, 201: EventOut, **ERRORS},
    summary="Record a grant",
)
def grant(request, payload: GrantIn):
    subject = _subject_or_422(payload.subject)
    notice = _notice_or_422(payload.notice_version, payload.notice_language)
    with _event_id_conflicts_as_409():
        event = services.grant_consent(
            actor=_actor(request), subject=subject, purposes=payload.purposes, notice=notice,
            channel=payload.channel, collected_at=payload.collected_at, expires_at=payload.expires_at,
            evidence_hash=payload.evidence_hash, guardian_reference=payload.guardian_reference,
            event_id=payload.event_id,
        )  # fmt: skip
    return _recorded(event, subject=subject, notice=notice, guardian_reference=payload.guardian_reference.strip())


@router.post(
    "events/withdraw",
    auth=allowed("consent.withdraw_consent"),
    response={200: EventOut, 201: EventOut, **ERRORS},
    summary="Record a withdrawal",
)
def withdraw(request, payload: WithdrawIn):
    subject = _subject_or_422(payload.subject)
    with _event_id_conflicts_as_409():
        event = services.withdraw_consent(
            actor=_actor(request), subject=subject, purposes=payload.purposes, channel=payload.channel,
            collected_at=payload.collected_at, event_id=payload.event_id,
        )  # fmt: skip
    return _recorded(event, subject=subject)


@router.post(
    "events/erase",
    auth=allowed("consent.erase_subject"),
    response={200: EventOut, 201: EventOut, **ERRORS},
    summary="Erase a subject",
)
def erase(request, payload: EraseIn):
    """Withdraw everything and remove the subject's personal data (GDPR Art. 17).

    Once erased, the subject's reference is gone; a repeated request is recognised by its event id.
    """
    subject = selectors.subject_by_reference(payload.subject)
    if subject is None:
        replay = _repeated_erasure(payload)
        if replay is None:
            raise FieldError("subject", UNKNOWN_SUBJECT.format(reference=payload.subject))
        return Status(200, _event_out(replay, subject_reference=None, notice=None, guardian_reference=None))
    with _event_id_conflicts_as_409():
        event = services.erase_subject(
            actor=_actor(request), subject=subject, channel=payload.channel, collected_at=payload.collected_at,
            event_id=payload.event_id,
        )  # fmt: skip
    out = _event_out(event, subject_reference=None, notice=None, guardian_reference=None)
    return Status(200 if event.replayed else 201, out)


def _actor(request) -> Actor:
    return Actor.of_user(request.auth)


def _subject_or_422(reference: str) -> Subject:
    subject = selectors.subject_by_reference(reference)
    if subject is None:
        raise FieldError("subject", UNKNOWN_SUBJECT.format(reference=reference))
    return subject


def _notice_or_422(version: str, language: str | None) -> Notice:
    notices = selectors.notices_with_version(version, language)
    if not notices:
        label = f"{version}/{language}" if language else version
        raise FieldError("notice_version", UNKNOWN_NOTICE.format(label=label))
    if len(notices) > 1:
        languages = ", ".join(n.language for n in notices)
        raise FieldError("notice_language", AMBIGUOUS_NOTICE.format(version=version, languages=languages))
    return notices[0]


@contextmanager
def _event_id_conflicts_as_409():
    """The service refuses a reused event id with different content; that is a conflict, not bad input."""
    try:
        yield
    except RuleViolation as exc:
        conflicts = [message for field, message in exc.problems if field == "event_id"]
        if conflicts:
            raise FieldError("event_id", conflicts[0], status_code=409) from exc
        raise


def _repeated_erasure(payload: EraseIn) -> ConsentEvent | None:
    """The erasure already recorded under this event id, when the request repeats it.

    The erased subject's reference is gone, so the request can only be matched on what the event kept.
    """
    event = selectors.event_by_id(payload.event_id.strip())
    if event is None:
        return None
    same = (
        event.kind == EventKind.ERASURE
        and event.subject.is_erased
        and event.channel == payload.channel
        and (payload.collected_at is None or event.collected_at == payload.collected_at)
    )
    if not same:
        raise FieldError("event_id", services.EVENT_ID_CONFLICT.format(event_id=event.event_id), status_code=409)
    return event


def _recorded(event: ConsentEvent, *, subject: Subject, notice: Notice | None = None, guardian_reference: str = ""):
    """201 for a first recording, 200 for a repeat (which matched this request's notice and guardian)."""
    return Status(
        200 if event.replayed else 201,
        _event_out(event, subject_reference=subject.reference, notice=notice,
                   guardian_reference=guardian_reference or None),
    )  # fmt: skip


def _event_out(event: ConsentEvent, *, subject_reference, notice: Notice | None, guardian_reference) -> dict:
    return {
        "event_id": event.event_id,
        "sequence": event.sequence,
        "kind": event.kind,
        "purposes": event.purposes,
        "subject": subject_reference,
        "notice": notice.label if notice else None,
        "channel": event.channel,
        "collected_at": event.collected_at,
        "expires_at": event.expires_at,
        "recorded_at": event.recorded_at,
        "evidence_hash": event.evidence_hash,
        "guardian_reference": guardian_reference,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


# Reading subjects ------------------------------------------------------------------------------


@router.get(
    "subjects/{reference}",
    auth=allowed("consent.view_subject", "consent.view_consentevent"),
    response={200: SubjectOut, **ERRORS},
    summary="A subject's consent and history",
)
def subject_detail(request, reference: str):
    subject = selectors.subject_by_reference(reference)
    if subject is None:
        raise FieldError("reference", UNKNOWN_SUBJECT.format(reference=reference), status_code=404)
    now = timezone.now()
    states = selectors.consent_state(subject, now)
    events = selectors.event_history(subject)
    return {
        "reference": subject.reference,
        "jurisdiction": subject.jurisdiction,
        "as_of": now,
        "consent": [
            {
                "purpose": s.purpose.value,
                "active": s.active,
                "since": s.since,
                "expires_at": s.expires_at,
                "last_event_id": s.last_event_id,
            }
            for s in states.values()
        ],  # fmt: skip
        "events": [
            _event_out(
                event,
                subject_reference=subject.reference,
                notice=event.notice,
                guardian_reference=event.guardian.reference if hasattr(event, "guardian") else None,
            )  # fmt: skip
            for event in events
        ],
    }


# Reading data items ----------------------------------------------------------------------------


class ItemPages(PageNumberPages):
    """Ninja's page-number pagination that also reads the page's protected attributes, when permitted.

    Attributes are read through consent.selectors.item_attributes, which logs every read, and only
    for the items on the page being returned.
    """

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        items = list(page["items"])
        attributes = {}
        if items and request.auth.has_perm(selectors.PROTECTED_ATTRIBUTES_PERMISSION):
            attributes = selectors.item_attributes(
                actor=_actor(request), items=DataItem.objects.filter(pk__in=[item.pk for item in items])
            )
        page["items"] = [_item_out(item, attributes.get(item.pk)) for item in items]
        return page


@router.get(
    "items", auth=allowed("consent.view_dataitem"), response=list[ItemOut], summary="Data items with their provenance"
)
@paginate(ItemPages, page_size=50)
def items(request, dataset: str | None = None, version: str | None = None, subject: str | None = None):
    """Filter by dataset name and version, or by subject reference. Protected attributes come only to roles
    with view_protected_attributes, and each page that carries them is logged."""
    if (dataset or version) and not selectors.dataset_exists(name=dataset, version=version):
        label = " v".join(part for part in (dataset, version) if part)
        raise FieldError("dataset" if dataset else "version", UNKNOWN_DATASET.format(label=label))
    return selectors.items_with_provenance(dataset=dataset, version=version, subject_reference=subject)


def _item_out(item: DataItem, attributes: dict | None) -> dict:
    source = item.source
    return {
        "item_ref": item.item_ref,
        "dataset": item.dataset.name,
        "dataset_version": item.dataset.version,
        "kind": item.kind,
        "subject": item.subject.reference,
        "content_hash": item.content_hash,
        "erased": item.erased_at is not None,
        "provenance": {
            "source": source.name,
            "origin": source.origin,
            "licence": source.licence,
            "copyright_status": source.copyright_status,
            "collection_start": source.collection_start,
            "collection_end": source.collection_end,
        },
        "attributes": attributes,
    }


# The ledger ------------------------------------------------------------------------------------


@router.get(
    "ledger/verify",
    auth=allowed("consent.view_consentevent"),
    response={200: LedgerCheckOut, **ERRORS},
    summary="Verify the consent ledger",
)
def verify_ledger(request):
    """Recompute the hash chain of every consent event; names the first broken event, if any."""
    check = ledger.verify()
    return {
        "ok": check.ok,
        "count": check.count,
        "broken_sequence": check.broken_sequence,
        "broken_event_id": check.broken_event_id,
        "reasons": check.reasons,
        "summary": check.summary(),
    }
