"""Reads of consent and provenance data; other apps read consent only through these."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet

from consent.models import ConsentEvent, EventKind, Subject
from consent.rules.purposes import Purpose
from core import audit_log
from core.audit_log import Actor

PROTECTED_ATTRIBUTES_PERMISSION = "consent.view_protected_attributes"


@dataclass(frozen=True)
class PurposeState:
    purpose: Purpose
    active: bool
    since: datetime | None  # when the grant now in force was collected
    expires_at: datetime | None
    last_event_id: str | None


def consent_state(subject: Subject, at: datetime) -> dict[Purpose, PurposeState]:
    """For each purpose: is consent active at `at`, and which event decided it."""
    events = list(
        subject.events.filter(collected_at__lte=at)
        .order_by("collected_at", "sequence")
        .values_list("kind", "purpose_mask", "collected_at", "expires_at", "event_id")
    )
    states = {}
    for purpose in Purpose:
        latest = None
        for event in events:
            if event[1] & purpose.bit:
                latest = event
        active = latest is not None and latest[0] == EventKind.GRANT and (latest[3] is None or latest[3] > at)
        states[purpose] = PurposeState(
            purpose=purpose,
            active=active,
            since=latest[2] if active else None,
            expires_at=latest[3] if active else None,
            last_event_id=latest[4] if latest else None,
        )
    return states


def is_consent_active(subject: Subject, purpose: Purpose, at: datetime) -> bool:
    return consent_state(subject, at)[purpose].active


_ACTIVE_SQL = """
SELECT latest.subject_id FROM (
    SELECT e.subject_id, e.kind, e.expires_at,
           ROW_NUMBER() OVER (PARTITION BY e.subject_id ORDER BY e.collected_at DESC, e.sequence DESC) AS rn
    FROM {events} e
    WHERE (e.purpose_mask & %s) <> 0 AND e.collected_at <= %s {subject_filter}
) latest
WHERE latest.rn = 1 AND latest.kind = %s AND (latest.expires_at IS NULL OR latest.expires_at > %s)
"""


def subjects_with_active_consent(purpose: Purpose, at: datetime, subjects: QuerySet | None = None) -> set[int]:
    """Ids of the subjects whose consent for `purpose` is active at `at`, in one query.

    `subjects` narrows the answer to a queryset of subjects (for example those with items in a
    dataset); it is inlined as a subquery, so the set can be any size.
    """
    adapt = connection.ops.adapt_datetimefield_value
    params: list = [purpose.bit, adapt(at)]
    subject_filter = ""
    if subjects is not None:
        try:
            sub_sql, sub_params = subjects.values("pk").query.sql_with_params()
        except EmptyResultSet:  # e.g. Subject.objects.none() or pk__in=[]
            return set()
        subject_filter = f"AND e.subject_id IN ({sub_sql})"
        params.extend(sub_params)
    params.extend([EventKind.GRANT.value, adapt(at)])
    sql = _ACTIVE_SQL.format(events=ConsentEvent._meta.db_table, subject_filter=subject_filter)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


_LATEST_SQL = """
SELECT latest.subject_id, latest.kind,
       CASE WHEN latest.expires_at IS NULL OR latest.expires_at > %s THEN 1 ELSE 0 END FROM (
    SELECT e.subject_id, e.kind, e.expires_at,
           ROW_NUMBER() OVER (PARTITION BY e.subject_id ORDER BY e.collected_at DESC, e.sequence DESC) AS rn
    FROM {events} e
    WHERE (e.purpose_mask & %s) <> 0 AND e.collected_at <= %s AND e.subject_id IN ({subjects})
) latest
WHERE latest.rn = 1
"""


class ConsentStatus:
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    ERASED = "erased"
    NEVER_GRANTED = "never granted"


def consent_statuses(purpose: Purpose, at: datetime, subjects: QuerySet) -> dict[int, str]:
    """For each subject of `subjects`: is consent for `purpose` active at `at`, and if not, why (one query)."""
    adapt = connection.ops.adapt_datetimefield_value
    try:
        sub_sql, sub_params = subjects.values("pk").query.sql_with_params()
    except EmptyResultSet:
        return {}
    sql = _LATEST_SQL.format(events=ConsentEvent._meta.db_table, subjects=sub_sql)
    statuses = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt(at), purpose.bit, adapt(at), *sub_params])
        rows = cursor.fetchall()
    for subject_id, kind, in_force in rows:
        if kind == EventKind.GRANT:
            statuses[subject_id] = ConsentStatus.ACTIVE if in_force else ConsentStatus.EXPIRED
        elif kind == EventKind.ERASURE:
            statuses[subject_id] = ConsentStatus.ERASED
        else:
            statuses[subject_id] = ConsentStatus.WITHDRAWN
    for subject_id in subjects.values_list("pk", flat=True):
        statuses.setdefault(subject_id, ConsentStatus.NEVER_GRANTED)
    return statuses


def subject_by_reference(reference: str) -> Subject | None:
    return Subject.objects.filter(reference=reference).first()


def item_attributes(*, actor: Actor, items: QuerySet) -> dict[int, dict]:
    """Item-level protected attributes (AI Act Art. 10(5)): for permitted users only, and every read logged.

    Actors without a user (commands, background tasks) are the operator's own processes.
    """
    if actor.user is not None and not actor.user.has_perm(PROTECTED_ATTRIBUTES_PERMISSION):
        raise PermissionError("reading item-level protected attributes needs the view_protected_attributes permission")
    with transaction.atomic():
        values = dict(items.values_list("pk", "attributes"))
        audit_log.record(
            actor=actor,
            action="attributes.read",
            object_type="data_item",
            object_id=f"{len(values)} items",
            after={"item_ids": sorted(values)[:1000], "count": len(values)},
        )
    return values
