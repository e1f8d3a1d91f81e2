"""Reads of consent and provenance data; other apps read consent only through these."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case, Count, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from consent.models import (
    AttributeSchema,
    ConsentEvent,
    DataItem,
    Dataset,
    EventKind,
    ImportBatch,
    Notice,
    Source,
    Subject,
)
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


# Reads for the consent and provenance pages ------------------------------------------------

SUBJECT_SEARCH_LIMIT = 25


def search_subjects(query: str, *, limit: int = SUBJECT_SEARCH_LIMIT) -> list[Subject]:
    """Subjects whose reference contains `query` (case-insensitive), an exact match first.

    With a blank query, the latest registered subjects. Erased subjects have no reference left
    to find. Each carries `event_count`.
    """
    subjects = Subject.objects.filter(erased_at__isnull=True).annotate(event_count=Count("events"))
    query = query.strip()
    if not query:
        return list(subjects.order_by("-created_at", "-id")[:limit])
    exact_first = Case(When(reference=query, then=Value(0)), default=Value(1))
    return list(subjects.filter(reference__icontains=query).order_by(exact_first, "reference")[:limit])


def subject_by_key(key) -> Subject | None:
    return Subject.objects.filter(key=key).first()


def event_history(subject: Subject) -> list[ConsentEvent]:
    """The subject's events in ledger order, with their notice and guardian."""
    return list(subject.events.select_related("notice", "guardian").order_by("sequence"))


@dataclass(frozen=True)
class PurposeStatus:
    purpose: Purpose
    status: str  # a ConsentStatus value
    since: datetime | None
    expires_at: datetime | None
    last_event_id: str | None

    @property
    def active(self) -> bool:
        return self.status == ConsentStatus.ACTIVE


def consent_overview(subject: Subject, at: datetime) -> list[PurposeStatus]:
    """consent_state with the reason where consent is not active: withdrawn, expired, erased or never granted."""
    states = consent_state(subject, at)
    decided_by = {state.last_event_id for state in states.values() if state.last_event_id}
    kinds = dict(subject.events.filter(event_id__in=decided_by).values_list("event_id", "kind"))
    by_kind = {
        EventKind.GRANT: ConsentStatus.EXPIRED,  # a grant that decides but is not active has expired
        EventKind.WITHDRAWAL: ConsentStatus.WITHDRAWN,
        EventKind.ERASURE: ConsentStatus.ERASED,
    }
    overview = []
    for purpose, state in states.items():
        if state.active:
            status = ConsentStatus.ACTIVE
        elif state.last_event_id is None:
            status = ConsentStatus.NEVER_GRANTED
        else:
            status = by_kind[kinds[state.last_event_id]]
        overview.append(PurposeStatus(purpose, status, state.since, state.expires_at, state.last_event_id))
    return overview


def published_notices(at: datetime) -> QuerySet[Notice]:
    return Notice.objects.filter(published_at__lte=at).order_by("-published_at", "version", "language")


def _count_per_dataset(model) -> Coalesce:
    counts = model.objects.filter(dataset=OuterRef("pk")).order_by().values("dataset").annotate(n=Count("pk"))
    return Coalesce(Subquery(counts.values("n")), 0)


def dataset_list() -> list[Dataset]:
    """Every dataset with `source_count` and `item_count`, newest first."""
    return list(
        Dataset.objects.select_related("attribute_schema")
        .annotate(source_count=_count_per_dataset(Source), item_count=_count_per_dataset(DataItem))
        .order_by("name", "-created_at")
    )


def dataset_by_pk(pk: int) -> Dataset | None:
    return Dataset.objects.select_related("attribute_schema").filter(pk=pk).first()


def sources_of(dataset: Dataset) -> list[Source]:
    """The dataset's sources, each with `item_count`."""
    items = DataItem.objects.filter(source=OuterRef("pk")).order_by().values("source").annotate(n=Count("pk"))
    return list(dataset.sources.annotate(item_count=Coalesce(Subquery(items.values("n")), 0)).order_by("name"))


@dataclass(frozen=True)
class LicenceCount:
    licence: str
    copyright_status: str
    items: int


def items_by_licence(dataset: Dataset) -> list[LicenceCount]:
    """Item counts per (licence, copyright status) of their sources, largest first."""
    rows = (
        dataset.items.order_by()
        .values("source__licence", "source__copyright_status")
        .annotate(n=Count("pk"))
        .order_by("-n", "source__licence", "source__copyright_status")
    )
    return [LicenceCount(row["source__licence"], row["source__copyright_status"], row["n"]) for row in rows]


@dataclass(frozen=True)
class Coverage:
    purpose: Purpose
    at: datetime
    items: int
    by_status: dict[str, int]  # items per ConsentStatus value, in a fixed order

    @property
    def active(self) -> int:
        return self.by_status[ConsentStatus.ACTIVE]

    @property
    def share(self) -> float | None:
        return self.active / self.items if self.items else None


COVERAGE_ORDER = (
    ConsentStatus.ACTIVE,
    ConsentStatus.WITHDRAWN,
    ConsentStatus.EXPIRED,
    ConsentStatus.ERASED,
    ConsentStatus.NEVER_GRANTED,
)


def consent_coverage(dataset: Dataset, purpose: Purpose, at: datetime) -> Coverage:
    """How many of the dataset's items belong to a subject whose consent for `purpose` is active at `at`."""
    statuses = consent_statuses(purpose, at, Subject.objects.filter(items__dataset=dataset))
    by_status = dict.fromkeys(COVERAGE_ORDER, 0)
    items = 0
    per_subject = dataset.items.order_by().values_list("subject_id").annotate(n=Count("pk"))
    for subject_id, count in per_subject:
        by_status[statuses[subject_id]] += count
        items += count
    return Coverage(purpose=purpose, at=at, items=items, by_status=by_status)


NOT_GIVEN = "(not given)"


@dataclass(frozen=True)
class StratumCount:
    values: tuple[str, ...]  # one per attribute of `Strata.attributes`, or one value or band
    items: int


@dataclass(frozen=True)
class Marginal:
    attribute: str
    label: str
    counts: list[StratumCount]  # per value, in the schema's order
    bandings: dict[str, list[StratumCount]]  # per banding: per band


@dataclass(frozen=True)
class Strata:
    attributes: tuple[str, ...]
    items: int  # items still holding attributes (erased items hold none)
    erased_items: int
    joint: list[StratumCount]  # per combination of values present, in the schema's order
    marginals: list[Marginal]


def items_per_stratum(dataset: Dataset, *, actor: Actor) -> Strata:
    """Counts of the dataset's items per protected-attribute stratum: aggregates only, no item is read.

    Breakdowns by protected attribute are for roles with view_protected_attributes, like the
    item-level reads; counts are computed in the database, so nothing is logged.
    """
    if actor.user is not None and not actor.user.has_perm(PROTECTED_ATTRIBUTES_PERMISSION):
        raise PermissionError("breakdowns by protected attribute need the view_protected_attributes permission")
    schema = dataset.attribute_schema.rules()
    # By name: PostgreSQL's jsonb does not keep the order in which the schema listed its attributes.
    attributes = dict(sorted(schema.attributes.items()))
    names = tuple(attributes)
    aliases = {f"attribute_{index}": name for index, name in enumerate(names)}
    live = dataset.items.filter(erased_at__isnull=True).order_by()
    rows = (
        live.annotate(**{alias: KeyTextTransform(name, "attributes") for alias, name in aliases.items()})
        .values(*aliases)
        .annotate(n=Count("pk"))
    )
    joint = [
        StratumCount(tuple(row[alias] if row[alias] not in (None, "") else NOT_GIVEN for alias in aliases), row["n"])
        for row in rows
    ]
    ranks = [{value: rank for rank, value in enumerate(attribute.values)} for attribute in attributes.values()]

    def schema_order(stratum: StratumCount) -> list[int]:  # values not given come last
        return [rank.get(value, len(rank)) for rank, value in zip(ranks, stratum.values, strict=True)]

    joint.sort(key=schema_order)
    marginals = []
    for position, (name, attribute) in enumerate(attributes.items()):
        per_value = dict.fromkeys(attribute.values, 0)
        for stratum in joint:
            value = stratum.values[position]
            per_value[value] = per_value.get(value, 0) + stratum.items
        bandings = {
            banding: [StratumCount((band,), sum(per_value[v] for v in members)) for band, members in bands.items()]
            for banding, bands in attribute.bandings.items()
        }
        marginals.append(
            Marginal(
                attribute=name,
                label=attribute.label or name.replace("_", " ").capitalize(),
                counts=[StratumCount((value,), count) for value, count in per_value.items()],
                bandings=bandings,
            )
        )
    return Strata(
        attributes=names,
        items=sum(stratum.items for stratum in joint),
        erased_items=dataset.items.filter(erased_at__isnull=False).count(),
        joint=joint,
        marginals=marginals,
    )


def recent_imports(kind: str, *, limit: int = 10) -> list[ImportBatch]:
    """The latest import batches of a kind (ImportBatch.Kind), newest first."""
    return list(ImportBatch.objects.filter(kind=kind).order_by("-imported_at", "-id")[:limit])


# Reads for the REST API (consent/api.py) --------------------------------------------------------


def notices_with_version(version: str, language: str | None = None) -> list[Notice]:
    """The notices published as `version`, in `language` or, without one, in every language."""
    notices = Notice.objects.filter(version=version)
    if language:
        notices = notices.filter(language=language)
    return list(notices.order_by("language"))


def event_by_id(event_id: str) -> ConsentEvent | None:
    """The event recorded under a client's event id, with its subject."""
    return ConsentEvent.objects.select_related("subject").filter(event_id=event_id).first()


def items_with_provenance(
    *, dataset: str | None = None, version: str | None = None, subject_reference: str | None = None
) -> QuerySet[DataItem]:
    """Data items with their dataset, source and subject, in a stable order.

    Protected attributes are left unread: read them through item_attributes, which logs the read.
    """
    items = DataItem.objects.select_related("dataset", "source", "subject").defer("attributes")
    if dataset:
        items = items.filter(dataset__name=dataset)
    if version:
        items = items.filter(dataset__version=version)
    if subject_reference:
        items = items.filter(subject__reference=subject_reference)
    return items.order_by("dataset_id", "pk")


def dataset_exists(*, name: str | None = None, version: str | None = None) -> bool:
    named = {key: value for key, value in (("name", name), ("version", version)) if value}
    return Dataset.objects.filter(**named).exists()


# Reads for the scoring and audit apps' forms, pages and exports ------------------------------------


def datasets() -> QuerySet[Dataset]:
    """Every dataset with its attribute schema, by name and version (the choices of a dataset field)."""
    return Dataset.objects.select_related("attribute_schema").order_by("name", "version")


def attribute_schemas() -> QuerySet[AttributeSchema]:
    """Every attribute schema, by name and version."""
    return AttributeSchema.objects.order_by("name", "version")


def subjects_by_id(subject_ids) -> QuerySet[Subject]:
    """The subjects with these ids (a list, or a queryset of ids, which stays a subquery)."""
    return Subject.objects.filter(pk__in=subject_ids)


def items_by_id(item_ids) -> QuerySet[DataItem]:
    """The data items with these ids, protected attributes unread: read them through item_attributes."""
    return DataItem.objects.filter(pk__in=item_ids).defer("attributes")
