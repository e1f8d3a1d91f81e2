"""Whether a consent event may be recorded, given the subject and their history so far.

Pure functions over plain values: the single-event services and the bulk importer both
call `check_event`, so a form, the API and a million-row file follow the same rules.
"""

from datetime import date, datetime
from typing import NamedTuple

from consent.rules.age_of_consent import CURRENT as CURRENT_AGE_TABLE
from consent.rules.age_of_consent import guardian_requirement
from consent.rules.purposes import ALL_PURPOSES_MASK, Purpose, mask_of

GRANT = "grant"
WITHDRAWAL = "withdrawal"
ERASURE = "erasure"
KINDS = (GRANT, WITHDRAWAL, ERASURE)

UNKNOWN_KIND = "unknown event kind {value!r}; use grant, withdrawal or erasure"
IN_THE_FUTURE = "{when} is in the future"
GRANT_WITHOUT_PURPOSES = "a grant must name at least one purpose"
GRANT_WITHOUT_NOTICE = "a grant must name the notice version the subject was shown"
PURPOSE_NOT_OFFERED = "notice {notice} does not offer the purpose {purpose!r}"
BEFORE_NOTICE = "collected at {when}, before notice {notice} was published ({published})"
EXPIRES_BEFORE_COLLECTED = "expires at {expires}, not after it was collected ({collected})"
WITHDRAWAL_BEFORE_GRANT = "a withdrawal at {when} comes before any grant for this subject"
PURPOSE_NEVER_GRANTED = "withdraws {purpose!r}, which was not granted before {when}"
SUBJECT_ERASED = "the subject was erased; no further events can be recorded"
GUARDIAN_REQUIRED = "{reason}; give the guardian's reference"
GUARDIAN_NOT_EXPECTED = "only a grant can carry a guardian's consent"
BAD_EVIDENCE_HASH = "evidence hash must be 64 hexadecimal characters (SHA-256), got {value!r}"

HEX = set("0123456789abcdef")


class NoticeFacts(NamedTuple):
    label: str
    purposes: frozenset[str]
    published_at: datetime


class SubjectFacts(NamedTuple):
    jurisdiction: str
    birth_month: date
    erased: bool


class PastEvent(NamedTuple):
    collected_at: datetime
    kind: str
    mask: int


class ProposedEvent(NamedTuple):
    kind: str
    purposes: tuple[Purpose, ...]
    collected_at: datetime
    expires_at: datetime | None = None
    notice: NoticeFacts | None = None
    guardian_reference: str = ""
    evidence_hash: str = ""


class Verdict(NamedTuple):
    problems: list[tuple[str, str]]
    mask: int
    age_rule_version: str

    @property
    def ok(self) -> bool:
        return not self.problems


def check_event(event: ProposedEvent, *, subject: SubjectFacts, history: list[PastEvent], now: datetime) -> Verdict:
    """Problems as (field, message) pairs; an empty list means the event may be recorded."""
    problems: list[tuple[str, str]] = []
    age_rule_version = ""
    mask = mask_of(event.purposes)

    if event.kind not in KINDS:
        return Verdict([("kind", UNKNOWN_KIND.format(value=event.kind))], mask, "")
    if subject.erased or any(past.kind == ERASURE for past in history):
        return Verdict([("subject", SUBJECT_ERASED)], mask, "")
    if event.collected_at > now:
        problems.append(("collected_at", IN_THE_FUTURE.format(when=event.collected_at.isoformat())))
    if event.evidence_hash and not (len(event.evidence_hash) == 64 and set(event.evidence_hash) <= HEX):
        problems.append(("evidence_hash", BAD_EVIDENCE_HASH.format(value=event.evidence_hash)))
    if event.guardian_reference and event.kind != GRANT:
        problems.append(("guardian", GUARDIAN_NOT_EXPECTED))

    if event.kind == GRANT:
        age_rule_version = CURRENT_AGE_TABLE.version
        problems.extend(_grant_problems(event, subject))
    elif event.kind == WITHDRAWAL:
        if not event.purposes:
            mask = ALL_PURPOSES_MASK
        problems.extend(_withdrawal_problems(event, history))
    else:
        mask = ALL_PURPOSES_MASK
    return Verdict(problems, mask, age_rule_version)


def _grant_problems(event: ProposedEvent, subject: SubjectFacts):
    if not event.purposes:
        yield ("purposes", GRANT_WITHOUT_PURPOSES)
    if event.notice is None:
        yield ("notice_version", GRANT_WITHOUT_NOTICE)
    else:
        for purpose in event.purposes:
            if purpose.value not in event.notice.purposes:
                yield ("purposes", PURPOSE_NOT_OFFERED.format(notice=event.notice.label, purpose=purpose.value))
        if event.collected_at < event.notice.published_at:
            yield (
                "collected_at",
                BEFORE_NOTICE.format(
                    when=event.collected_at.isoformat(),
                    notice=event.notice.label,
                    published=event.notice.published_at.isoformat(),
                ),
            )
    if event.expires_at is not None and event.expires_at <= event.collected_at:
        yield (
            "expires_at",
            EXPIRES_BEFORE_COLLECTED.format(
                expires=event.expires_at.isoformat(), collected=event.collected_at.isoformat()
            ),
        )
    requirement = guardian_requirement(
        country=subject.jurisdiction, birth=subject.birth_month, collected_on=event.collected_at.date()
    )
    if requirement.required and not event.guardian_reference:
        yield ("guardian", GUARDIAN_REQUIRED.format(reason=requirement.explain()))


def _withdrawal_problems(event: ProposedEvent, history: list[PastEvent]):
    granted_before = 0
    for past in history:
        if past.kind == GRANT and past.collected_at <= event.collected_at:
            granted_before |= past.mask
    when = event.collected_at.isoformat()
    if not granted_before:
        yield ("collected_at", WITHDRAWAL_BEFORE_GRANT.format(when=when))
        return
    for purpose in event.purposes:
        if not granted_before & purpose.bit:
            yield ("purposes", PURPOSE_NEVER_GRANTED.format(purpose=purpose.value, when=when))
