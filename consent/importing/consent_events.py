"""Atomic import of consent events: every row is checked first, and one bad row writes nothing."""

import uuid
from dataclasses import dataclass
from datetime import date
from functools import cache

import pandas as pd
from django.db import transaction
from django.utils import timezone

from consent import ledger
from consent.errors import ImportFailed, ImportProblem
from consent.importing.common import check_columns, chunks, column, parse_times
from consent.models import CHANNEL_VALUES, Channel, ConsentEvent, ImportBatch, Notice, Subject, new_salt
from consent.rules import events as rules
from consent.rules.countries import normalise_country
from consent.rules.purposes import ALL_PURPOSES_MASK, mask_of, parse_purposes, purpose_values_of
from consent.services import EVENT_ID_CONFLICT, erase_personal_data
from core import audit_log
from core.audit_log import Actor
from core.bulk import date_adapter, db_datetime, insert_rows, paused_gc, rows_where_in, uuid_adapter
from core.files import removed_unless_committed

REQUIRED = {"event_id", "subject", "kind", "channel", "collected_at"}
OPTIONAL = {
    "jurisdiction", "birth_month", "purposes", "notice_version", "notice_language",
    "expires_at", "evidence_hash", "guardian",
}  # fmt: skip

EMPTY_VALUE = "{field} is empty"
UNKNOWN_CHANNEL = "unknown channel {value!r}; use one of " + ", ".join(Channel.values)
UNKNOWN_NOTICE = "no notice {value!r} has been published"
AMBIGUOUS_NOTICE = "notice version {version!r} exists in several languages ({languages}); fill notice_language"
BAD_BIRTH_MONTH = "{value!r} is not a birth month; write it as YYYY-MM"
FUTURE_BIRTH_MONTH = "birth month {value} is in the future"
NEW_SUBJECT_NEEDS = "subject {subject!r} is new, so {field} is required"
SUBJECT_FACT_CONFLICT = "{field} {value!r} differs from {known!r} recorded for subject {subject!r}"
DUPLICATE_IN_FILE = "event id {event_id!r} already appears on row {first} with different content"
ERASED_EVENT = "event id {event_id!r} belongs to a subject who has been erased; it cannot be imported again"


@dataclass
class ConsentImportResult:
    batch: ImportBatch
    rows: int
    created: int
    unchanged: int
    new_subjects: int


@dataclass
class _NewSubject:
    """A subject first seen in this file; lighter than a model instance for large imports."""

    key: uuid.UUID
    reference: str
    jurisdiction: str
    birth_month: date
    salt: str
    pk: int | None = None
    erased_at: None = None


@dataclass
class _Row:
    number: int
    event_id: str
    subject: str
    kind: str
    purposes: tuple
    mask: int
    channel: str
    collected_at: object
    expires_at: object
    notice: Notice | None
    evidence_hash: str
    guardian: str
    age_rule_version: str = ""

    def identity(self):
        notice = (self.notice.version, self.notice.language) if self.notice else None
        return (self.subject, self.kind, self.mask, self.channel, self.collected_at, self.expires_at, notice,
                self.evidence_hash, self.guardian)  # fmt: skip


def import_consent_events(
    *, actor: Actor, frame: pd.DataFrame, source_name: str, source_sha256: str
) -> ConsentImportResult:
    with paused_gc():
        return _import(actor=actor, frame=frame, source_name=source_name, source_sha256=source_sha256)


def _import(*, actor: Actor, frame: pd.DataFrame, source_name: str, source_sha256: str) -> ConsentImportResult:
    check_columns(frame, required=REQUIRED, optional=OPTIONAL)
    problems: list[ImportProblem] = []
    now = timezone.now()
    rows = _parse_rows(frame, problems, now)
    subjects, new_subjects = _resolve_subjects(frame, rows, problems, now)
    to_create, unchanged = _drop_known_events(rows, problems)
    _check_rules(to_create, subjects, problems, now)
    if problems:
        raise ImportFailed(problems)

    with removed_unless_committed() as written, transaction.atomic():
        batch = ImportBatch.objects.create(
            kind=ImportBatch.Kind.CONSENT,
            source_name=source_name,
            source_sha256=source_sha256,
            rows=len(frame),
            created=len(to_create),
            unchanged=unchanged,
            actor_label=actor.label,
        )
        _insert_subjects(new_subjects)
        ledger.append(
            [
                ledger.NewEvent(
                    event_id=row.event_id,
                    subject=subjects[row.subject],
                    kind=row.kind,
                    purposes=purpose_values_of(row.mask),
                    mask=row.mask,
                    channel=row.channel,
                    collected_at=row.collected_at,
                    expires_at=row.expires_at,
                    notice=row.notice,
                    evidence_hash=row.evidence_hash,
                    guardian_reference=row.guardian,
                    age_rule_version=row.age_rule_version,
                    import_batch=batch,
                )
                for row in to_create
            ]
        )
        for row in to_create:
            if row.kind == rules.ERASURE:
                subject = Subject.objects.get(pk=subjects[row.subject].pk)
                erase_personal_data(actor=actor, subject=subject, written=written)
        audit_log.record(
            actor=actor,
            action="consent.import",
            object_type="import_batch",
            object_id=batch.pk,
            after={**batch.audit_view(), "new_subjects": len(new_subjects)},
        )
    return ConsentImportResult(
        batch=batch, rows=len(frame), created=len(to_create), unchanged=unchanged, new_subjects=len(new_subjects)
    )


def _insert_subjects(subjects: list[_NewSubject]) -> None:
    """Insert new subjects and set their primary keys, which the ledger rows refer to."""
    created = db_datetime(timezone.now())
    db_uuid, db_date = uuid_adapter(), date_adapter()
    last_id = Subject.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    insert_rows(
        Subject,
        ["key", "reference", "jurisdiction", "birth_month", "salt", "created_at"],
        ((db_uuid(s.key), s.reference, s.jurisdiction, db_date(s.birth_month), s.salt, created) for s in subjects),
    )
    by_reference = {s.reference: s for s in subjects}
    # Only this transaction can have inserted these references, so reading back the ids
    # above the previous maximum finds them all.
    for pk, reference in Subject.objects.filter(pk__gt=last_id).values_list("pk", "reference").iterator(50_000):
        if reference in by_reference:
            by_reference[reference].pk = pk


def _parse_rows(frame: pd.DataFrame, problems: list[ImportProblem], now) -> list[_Row | None]:
    collected_text = column(frame, "collected_at")
    collected = parse_times(collected_text, "collected_at", problems)
    expires = parse_times(column(frame, "expires_at"), "expires_at", problems)
    unreadable_times = {problem.row for problem in problems}
    notices = _notices()
    rows: list[_Row | None] = []
    parsed_purposes: dict[str, tuple] = {}
    columns = zip(
        column(frame, "event_id"), column(frame, "subject"), column(frame, "kind"), column(frame, "purposes"),
        column(frame, "channel"), column(frame, "notice_version"), column(frame, "notice_language"),
        column(frame, "evidence_hash"), column(frame, "guardian"), collected, expires, strict=True,
    )  # fmt: skip
    for index, (event_id, subject, kind, purposes_text, channel, version, language, evidence, guardian, at,
                until) in enumerate(columns):  # fmt: skip
        number = index + 1
        before = len(problems)
        for field, value in (("event_id", event_id), ("subject", subject), ("kind", kind), ("channel", channel)):
            if not value:
                problems.append(ImportProblem(number, field, EMPTY_VALUE.format(field=field)))
        if kind and kind not in rules.KINDS:
            problems.append(ImportProblem(number, "kind", rules.UNKNOWN_KIND.format(value=kind)))
        if channel and channel not in CHANNEL_VALUES:
            problems.append(ImportProblem(number, "channel", UNKNOWN_CHANNEL.format(value=channel)))
        if not collected_text[index]:
            problems.append(ImportProblem(number, "collected_at", EMPTY_VALUE.format(field="collected_at")))
        elif at is not None and at > now:
            problems.append(ImportProblem(number, "collected_at", rules.IN_THE_FUTURE.format(when=at.isoformat())))
        purposes = parsed_purposes.get(purposes_text)
        if purposes is None:
            try:
                purposes = tuple(parse_purposes(purposes_text.replace("|", ";").split(";")))
            except ValueError as exc:
                problems.append(ImportProblem(number, "purposes", str(exc)))
                purposes = ()
            else:
                parsed_purposes[purposes_text] = purposes
        notice = None
        if version:
            notice, message = _find_notice(notices, version, language)
            if message:
                problems.append(ImportProblem(number, "notice_version", message))
        if len(problems) > before or number in unreadable_times:
            rows.append(None)
            continue
        covers_all = kind == rules.ERASURE or (kind == rules.WITHDRAWAL and not purposes)
        mask = ALL_PURPOSES_MASK if covers_all else mask_of(purposes)
        rows.append(
            _Row(
                number=number,
                event_id=event_id,
                subject=subject,
                kind=kind,
                purposes=purposes,
                mask=mask,
                channel=channel,
                collected_at=at,
                expires_at=until,
                notice=notice,
                evidence_hash=evidence.lower(),
                guardian=guardian,
            )  # fmt: skip
        )
    return rows


def _notices() -> dict[str, dict[str, Notice]]:
    by_version: dict[str, dict[str, Notice]] = {}
    for notice in Notice.objects.all():
        by_version.setdefault(notice.version, {})[notice.language] = notice
    return by_version


def _find_notice(notices, version: str, language: str) -> tuple[Notice | None, str]:
    languages = notices.get(version, {})
    if language:
        notice = languages.get(language)
        return (notice, "") if notice else (None, UNKNOWN_NOTICE.format(value=f"{version}/{language}"))
    if len(languages) == 1:
        return next(iter(languages.values())), ""
    if not languages:
        return None, UNKNOWN_NOTICE.format(value=version)
    return None, AMBIGUOUS_NOTICE.format(version=version, languages=", ".join(sorted(languages)))


@cache
def _birth_month(value: str) -> date | None:
    if len(value) == 10:  # a full date: keep only the month (data minimisation)
        value = value[:7]
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        return None


@cache
def _country(value: str) -> tuple[str | None, str]:
    try:
        return normalise_country(value), ""
    except ValueError as exc:
        return None, str(exc)


def _resolve_subjects(frame, rows, problems, now) -> tuple[dict[str, Subject | _NewSubject], list[_NewSubject]]:
    """Existing subjects by reference, plus new ones built from the file's jurisdiction and birth month.

    A new subject's facts may be given on any of its rows (typically the first grant); every row
    that gives them must agree with the subject's.
    """
    references = {row.subject for row in rows if row is not None}
    subjects: dict[str, Subject] = {}
    known_ids = [pk for pk, _ in rows_where_in(Subject, ["pk", "reference"], "reference", references)]
    for batch in chunks(known_ids):
        for subject in Subject.objects.filter(pk__in=batch):
            subjects[subject.reference] = subject
    facts = _row_facts(frame, rows, problems, now.date())

    first_facts: dict[str, dict[str, object]] = {}
    first_row: dict[str, int] = {}
    for row in rows:
        if row is None or row.subject in subjects:
            continue
        first_row.setdefault(row.subject, row.number)
        found = first_facts.setdefault(row.subject, {})
        for field, value in facts[row.number].items():
            found.setdefault(field, value)
    new: dict[str, _NewSubject] = {}
    for reference, found in first_facts.items():
        missing = [field for field in ("jurisdiction", "birth_month") if field not in found]
        for field in missing:
            if not any(p.row == first_row[reference] and p.field == field for p in problems):
                problems.append(
                    ImportProblem(first_row[reference], field, NEW_SUBJECT_NEEDS.format(subject=reference, field=field))
                )
        if not missing:
            new[reference] = _NewSubject(
                key=uuid.uuid4(), reference=reference, jurisdiction=found["jurisdiction"],
                birth_month=found["birth_month"], salt=new_salt(),
            )  # fmt: skip

    for row in rows:
        known = None if row is None else subjects.get(row.subject) or new.get(row.subject)
        if known is None:
            continue
        for field, value in facts[row.number].items():
            stored = known.jurisdiction if field == "jurisdiction" else known.birth_month
            if value != stored:
                shown = stored.strftime("%Y-%m") if isinstance(stored, date) else stored
                given = value.strftime("%Y-%m") if isinstance(value, date) else value
                problems.append(
                    ImportProblem(
                        row.number,
                        field,
                        SUBJECT_FACT_CONFLICT.format(field=field, value=given, known=shown, subject=row.subject),
                    )  # fmt: skip
                )
    subjects.update(new)
    return subjects, list(new.values())


def _row_facts(frame, rows, problems, today) -> dict[int, dict[str, object]]:
    """The valid jurisdiction and birth month each row gives (bad values are reported, not returned)."""
    jurisdictions = column(frame, "jurisdiction")
    birth_months = column(frame, "birth_month")
    facts: dict[int, dict[str, object]] = {}
    # Every row, including those dropped for other problems: a steward wants all of a row's problems at once.
    for index, (jurisdiction, birth_text) in enumerate(zip(jurisdictions, birth_months, strict=True)):
        number = index + 1
        given: dict[str, object] = {}
        if jurisdiction:
            country, error = _country(jurisdiction)
            if error:
                problems.append(ImportProblem(number, "jurisdiction", error))
            else:
                given["jurisdiction"] = country
        if birth_text:
            birth = _birth_month(birth_text)
            if birth is None:
                problems.append(ImportProblem(number, "birth_month", BAD_BIRTH_MONTH.format(value=birth_text)))
            elif birth > today:
                problems.append(ImportProblem(number, "birth_month", FUTURE_BIRTH_MONTH.format(value=birth_text)))
            else:
                given["birth_month"] = birth
        facts[number] = given
    return facts


def _drop_known_events(rows, problems) -> tuple[list[_Row], int]:
    """Rows to create; identical repeats of recorded (or earlier in-file) events are skipped."""
    valid = [row for row in rows if row is not None]
    stored: dict[str, tuple | None] = {}
    fields = (
        "event_id", "subject__reference", "kind", "purpose_mask", "channel", "collected_at", "expires_at",
        "notice__version", "notice__language", "evidence_hash", "guardian__reference",
    )  # fmt: skip
    recorded = [pk for (pk,) in rows_where_in(ConsentEvent, ["pk"], "event_id", {row.event_id for row in valid})]
    for batch in chunks(recorded):
        for (event_id, reference, kind, mask, channel, at, until, version, language, evidence,
             guardian) in ConsentEvent.objects.filter(pk__in=batch).values_list(*fields):  # fmt: skip
            notice = (version, language) if version else None
            stored[event_id] = None if reference is None else (
                reference, kind, mask, channel, at, until, notice, evidence, guardian or ""
            )  # fmt: skip
    to_create, unchanged = [], 0
    first_in_file: dict[str, _Row] = {}
    for row in valid:
        if row.event_id in stored:
            known = stored[row.event_id]
            if known is None:
                problems.append(ImportProblem(row.number, "event_id", ERASED_EVENT.format(event_id=row.event_id)))
            elif known != row.identity():
                problems.append(ImportProblem(row.number, "event_id", EVENT_ID_CONFLICT.format(event_id=row.event_id)))
            else:
                unchanged += 1
            continue
        first = first_in_file.get(row.event_id)
        if first is not None:
            if first.identity() != row.identity():
                problems.append(
                    ImportProblem(
                        row.number, "event_id", DUPLICATE_IN_FILE.format(event_id=row.event_id, first=first.number)
                    )
                )
            else:
                unchanged += 1
            continue
        first_in_file[row.event_id] = row
        to_create.append(row)
    return to_create, unchanged


def _check_rules(rows: list[_Row], subjects: dict[str, Subject], problems, now) -> None:
    """Apply the consent rules per subject in time order, over stored history plus earlier rows."""
    history: dict[int | str, list[rules.PastEvent]] = {}
    stored_ids = [s.pk for s in subjects.values() if s.pk is not None]
    for batch in chunks(stored_ids):
        for subject_id, at, kind, mask in (
            ConsentEvent.objects.filter(subject_id__in=batch)
            .order_by("collected_at", "sequence")
            .values_list("subject_id", "collected_at", "kind", "purpose_mask")
        ):
            history.setdefault(subject_id, []).append(rules.PastEvent(at, kind, mask))
    facts_cache: dict[str, rules.SubjectFacts] = {}
    notice_cache: dict[int, rules.NoticeFacts] = {}
    for row in sorted(rows, key=lambda r: (r.subject, r.collected_at, r.number)):
        subject = subjects.get(row.subject)
        if subject is None:  # its problem is already reported
            continue
        facts = facts_cache.get(row.subject)
        if facts is None:
            facts = facts_cache[row.subject] = rules.SubjectFacts(
                jurisdiction=subject.jurisdiction, birth_month=subject.birth_month, erased=subject.erased_at is not None
            )
        notice = None
        if row.notice is not None:
            notice = notice_cache.get(row.notice.pk)
            if notice is None:
                notice = notice_cache[row.notice.pk] = rules.NoticeFacts(
                    label=row.notice.label,
                    purposes=frozenset(row.notice.purposes),
                    published_at=row.notice.published_at,
                )
        past = history.setdefault(subject.pk or row.subject, [])
        verdict = rules.check_event(
            rules.ProposedEvent(
                kind=row.kind,
                purposes=row.purposes,
                collected_at=row.collected_at,
                expires_at=row.expires_at,
                notice=notice,
                guardian_reference=row.guardian,
                evidence_hash=row.evidence_hash,
            ),  # fmt: skip
            subject=facts,
            history=past,
            now=now,
        )
        for field, message in verdict.problems:
            problems.append(ImportProblem(row.number, field, message))
        row.age_rule_version = verdict.age_rule_version
        if verdict.ok:
            past.append(rules.PastEvent(row.collected_at, row.kind, row.mask))
