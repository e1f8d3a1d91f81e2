"""A synthetic population for the demo and for trying the platform: no real people.

`plan_population` draws everyone and everything from one numpy Generator, without touching the
database, so a seed always gives the same people, attributes, consent history and items.
`seed_population` then writes the plan through the real path: notices are published by the
service, the consent history arrives as one atomic import, items (one tabular row per subject
and small generated face-like images) arrive through the item importer in quarterly
deliveries, and erasure requests go through the erasure service once the items exist. So the
population obeys every rule the platform enforces; a grant that the rules refuse (a minor
below their country's age of digital consent, without a guardian) is counted as refused and
never recorded.
"""

import hashlib
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from PIL import Image, ImageDraw

from consent import services
from consent.importing.consent_events import import_consent_events
from consent.importing.items import import_items
from consent.models import (
    ConsentEvent,
    CopyrightStatus,
    DataItem,
    Dataset,
    EventKind,
    GuardianConsent,
    ImportBatch,
    Notice,
    Subject,
)
from consent.rules import events as rules
from consent.rules.age_of_consent import guardian_requirement, youngest_age_at
from consent.rules.ledger import sha256_hex
from consent.rules.purposes import ALL_PURPOSES_MASK, Purpose
from consent.selectors import subjects_with_active_consent
from core.audit_log import Actor
from core.files import removed_unless_committed
from core.models import Role

DEMO_DATASET = "demo-faces"
DEMO_DATASET_VERSION = "2026.4"
DEFAULT_SEED = 2026
DEFAULT_MAX_IMAGES = 300
EVENT_PREFIX = "DEMO-"
SUBJECT_FORMAT = "SUBJ-{:06d}"
GUARDIAN_FORMAT = "GUARD-{:06d}"

ALREADY_SEEDED = (
    "demo data already present ({what}); seed_demo only builds into an empty database: "
    "delete var/ (or var/demo/ for `make demo`) and migrate again, or point DATABASE_URL at a fresh database"
)
BAD_SUBJECTS = "--subjects must be at least 1, got {value}"
BAD_IMAGES = "--images cannot be negative, got {value}"

# Consent is collected from February 2024 to the end of October 2026. The window is fixed, not
# relative to today, so that a seed gives the same history whenever it runs; on a clock set
# before its end, the window is cut at the present (no event may be recorded in the future).
WINDOW_START = datetime(2024, 2, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)

# Population of the EU member states in 2024 (Eurostat, millions): where volunteers come from.
COUNTRY_POPULATION = {
    "DE": 83.4, "FR": 68.4, "IT": 59.0, "ES": 48.6, "PL": 36.6, "RO": 19.1, "NL": 17.9, "BE": 11.8,
    "CZ": 10.9, "SE": 10.6, "PT": 10.6, "GR": 10.4, "HU": 9.6, "AT": 9.2, "BG": 6.4, "DK": 6.0,
    "FI": 5.6, "SK": 5.4, "IE": 5.3, "HR": 3.9, "LT": 2.9, "SI": 2.1, "LV": 1.9, "EE": 1.4,
    "CY": 0.9, "LU": 0.7, "MT": 0.6,
}  # fmt: skip
NOTICE_LANGUAGE = {"DE": "de", "AT": "de", "LU": "fr", "FR": "fr", "BE": "fr"}  # English elsewhere

# The Monk scale in a European-heavy sample: mostly light to medium tones, a real minority of dark ones.
SKIN_TONE_WEIGHTS = [0.07, 0.16, 0.2, 0.17, 0.12, 0.09, 0.07, 0.05, 0.04, 0.03]
MONK_RGB = [
    (246, 237, 228), (243, 231, 219), (247, 234, 208), (234, 218, 186), (215, 189, 150),
    (160, 126, 86), (130, 92, 67), (96, 65, 52), (58, 49, 42), (41, 36, 32),
]  # fmt: skip
SEXES = ["female", "male"]
SEX_WEIGHTS = [0.51, 0.49]
MINOR_SHARE = 0.05  # ages 10 to 17 at collection
GUARDIAN_SHARE = 0.7  # of the minors who need one; the others' attempted grant is refused
EXPIRED_SHARE = 0.05  # grants whose expiry has passed
TIME_LIMITED_SHARE = 0.06  # grants that expire three years after collection
WITHDRAWAL_SHARE = 0.08
ERASURE_SHARE = 0.01
CHANNELS = ["web_form", "in_app", "paper_form"]
CHANNEL_WEIGHTS = [0.55, 0.3, 0.15]
WITHDRAWAL_CHANNELS = ["email", "web_form", "in_app"]
WITHDRAWAL_CHANNEL_WEIGHTS = [0.4, 0.4, 0.2]

# Tabular features, each correlated with a latent score (the loading), in plausible units.
# `feature_region` is also a proxy of skin tone, as postcode or region often is in real data:
# what lets a model that never sees the attribute still treat the groups differently.
PROXY_FEATURE = "feature_region"
FEATURES = ["feature_income", "feature_tenure", "feature_activity", "feature_history", "feature_region",
            "feature_device", "feature_sessions", "feature_rating"]  # fmt: skip
LOADINGS = [0.7, 0.5, 0.6, 0.45, 0.3, -0.35, 0.55, 0.4]

SCHEMA = {
    "skin_tone": {
        "label": "Monk skin tone scale (1 lightest, 10 darkest)",
        "values": [str(v) for v in range(1, 11)],
        "ordinal": True,
        "bandings": {"monk_3": {"light": ["1", "2", "3"], "medium": ["4", "5", "6", "7"], "dark": ["8", "9", "10"]}},
    },
    "sex": {"label": "Sex as recorded on the consent form", "values": SEXES},
    "age_band": {
        "label": "Age at collection",
        "values": ["under_18", "18-29", "30-44", "45-64", "65+"],
        "ordinal": True,
        "bandings": {"adult": {"minor": ["under_18"], "adult": ["18-29", "30-44", "45-64", "65+"]}},
    },
}

PURPOSES = [p.value for p in Purpose]  # training, evaluation, bias_audit, publication


class NoticeText(NamedTuple):
    version: str
    language: str
    title: str
    text: str
    published_at: datetime


NOTICES = [
    NoticeText("1", "en", "Taking part in our model evaluations",
               "We ask to use your photo and profile to train and evaluate our face-analysis model, to check "
               "that it works equally well for everyone, and to publish aggregate results. "
               "You can withdraw at any time, as easily as you agreed.", datetime(2024, 1, 1, tzinfo=UTC)),
    NoticeText("1", "de", "Teilnahme an unseren Modellprüfungen",
               "Wir bitten darum, Ihr Foto und Profil zum Trainieren und Prüfen unseres Gesichtsanalysemodells "
               "zu verwenden, zu prüfen, dass es für alle gleich gut funktioniert, und zusammengefasste "
               "Ergebnisse zu veröffentlichen. Sie können jederzeit widerrufen.", datetime(2024, 1, 1, tzinfo=UTC)),
    NoticeText("1", "fr", "Participer à l'évaluation de nos modèles",
               "Nous vous demandons d'utiliser votre photo et votre profil pour entraîner et évaluer notre modèle "
               "d'analyse faciale, vérifier qu'il fonctionne aussi bien pour tout le monde et publier des "
               "résultats agrégés. Vous pouvez retirer votre consentement à tout moment.",
               datetime(2024, 1, 1, tzinfo=UTC)),
    NoticeText("2", "en", "Taking part in our model evaluations",
               "We ask to use your photo and profile to train and evaluate our face-analysis model and to examine "
               "it for bias (EU AI Act Art. 10). Protected attributes are pseudonymised and every read is logged. "
               "Results are only published in aggregate. You can withdraw at any time, as easily as you agreed.",
               datetime(2025, 6, 1, tzinfo=UTC)),
    NoticeText("2", "de", "Teilnahme an unseren Modellprüfungen",
               "Wir bitten darum, Ihr Foto und Profil zum Trainieren und Prüfen unseres Gesichtsanalysemodells und "
               "zur Untersuchung auf Verzerrungen (KI-Verordnung Art. 10) zu verwenden. Geschützte Merkmale werden "
               "pseudonymisiert, jeder Zugriff wird protokolliert. Sie können jederzeit widerrufen.",
               datetime(2025, 6, 1, tzinfo=UTC)),
    NoticeText("2", "fr", "Participer à l'évaluation de nos modèles",
               "Nous vous demandons d'utiliser votre photo et votre profil pour entraîner et évaluer notre modèle "
               "d'analyse faciale et en examiner les biais (règlement européen sur l'IA, art. 10). Les attributs "
               "protégés sont pseudonymisés et chaque lecture est journalisée. Vous pouvez retirer votre "
               "consentement à tout moment.", datetime(2025, 6, 1, tzinfo=UTC)),
]  # fmt: skip
SECOND_NOTICE_FROM = NOTICES[3].published_at


class SourceSpec(NamedTuple):
    name: str
    origin: str
    licence: str
    copyright_status: str
    collection_start: date
    collection_end: date | None
    tabular_share: float
    image_share: float


SOURCES = [
    SourceSpec("studio-2024", "Own studio and in-app capture sessions with volunteers across the EU",
               "LicenseRef-Internal-Use", CopyrightStatus.OWNED, date(2024, 2, 1), None, 0.45, 0.4),
    SourceSpec("partner-panel", "Research panel run by a partner university under a data-sharing agreement",
               "CC-BY-4.0", CopyrightStatus.LICENSED, date(2024, 3, 1), date(2026, 6, 30), 0.3, 0.25),
    SourceSpec("open-faces", "Public-domain portrait collection, dedicated by its photographers",
               "CC0-1.0", CopyrightStatus.PUBLIC_DOMAIN, date(2024, 1, 1), None, 0.12, 0.15),
    SourceSpec("legacy-archive", "Archive inherited from an acquired company; licence records lost",
               "NOASSERTION", CopyrightStatus.UNKNOWN, date(2019, 1, 1), date(2023, 12, 31), 0.08, 0.1),
    SourceSpec("web-collected", "Images collected from the web in 2023; a rights holder contests the licence",
               "CC-BY-NC-4.0", CopyrightStatus.DISPUTED, date(2023, 1, 1), date(2023, 12, 31), 0.05, 0.1),
]  # fmt: skip

DATASHEET = {
    "motivation": (
        "Evaluate the face-analysis scoring model every quarter for score gaps between skin-tone, sex and age "
        "groups (EU AI Act Art. 10 bias examination), using only data its subjects consented to."
    ),
    "collection_process": (
        "Synthetic, generated by `manage.py seed_demo`: no real person is represented. It imitates consent "
        "collected by web form, in-app and paper form between February 2024 and October 2026 in the EU member "
        "states, and items delivered quarterly from five sources: own studio sessions, a partner panel "
        "(CC-BY-4.0), a public-domain collection (CC0-1.0), an archive of unknown copyright and web-collected "
        "images whose copyright is disputed. Each subject has one row of eight tabular features; some have a "
        "64x64 face-like image whose skin colour follows their Monk skin tone."
    ),
    "known_limitations": (
        "Skin tones 8-10 and people over 65 are under-represented, as in many European samples. Minors appear "
        "only with a guardian's consent where their country requires one. feature_region is a proxy of skin "
        "tone. Web-collected items have disputed copyright and legacy-archive items unknown copyright: exclude "
        "them from evaluation sets unless the policy allows them."
    ),
}


class DemoError(ValueError):
    """The demo cannot be seeded as asked (bad arguments, or demo data already present)."""


# The plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """Everything `seed_population` will write, drawn from the seed alone (no database)."""

    seed: int
    as_of: datetime  # the end of the collection window
    people: pd.DataFrame  # one row per generated person, recorded or refused
    events: pd.DataFrame  # the consent import, in the importer's columns
    items: pd.DataFrame  # the item import (tabular and image rows) plus a `delivery` column
    erasures: list[str]  # references whose erasure request is processed after the items arrive

    @property
    def refused(self) -> pd.DataFrame:
        return self.people[self.people["refused"]]


def plan_population(*, subjects: int, images: int, seed: int, now: datetime) -> Population:
    """Draw a population of `subjects` people, `images` of whom (at most) also get a face image."""
    if subjects < 1:
        raise DemoError(BAD_SUBJECTS.format(value=subjects))
    if images < 0:
        raise DemoError(BAD_IMAGES.format(value=images))
    rng = np.random.default_rng(seed)
    as_of = min(WINDOW_END, now.astimezone(UTC).replace(microsecond=0))
    people = _draw_people(rng=rng, n=subjects, as_of=as_of)
    _choose_purposes(people=people)
    _decide_guardians(people=people, as_of=as_of)
    _draw_consent(people=people, rng=rng, as_of=as_of)
    events = _events_frame(people=people, seed=seed)
    items = _items_frame(people=people, rng=rng, images=images)
    erasures = people.loc[people["erase"], "reference"].tolist()
    return Population(seed=seed, as_of=as_of, people=people, events=events, items=items, erasures=erasures)


def _draw_people(*, rng: np.random.Generator, n: int, as_of: datetime) -> pd.DataFrame:
    # Who they are is drawn first, in fixed-size arrays, so the attribute mix depends on the seed alone.
    countries = list(COUNTRY_POPULATION)
    weights = np.array(list(COUNTRY_POPULATION.values()))
    jurisdiction = rng.choice(countries, n, p=weights / weights.sum())
    sex = rng.choice(SEXES, n, p=SEX_WEIGHTS)
    skin_tone = rng.choice(np.arange(1, 11), n, p=SKIN_TONE_WEIGHTS)
    minor = np.zeros(n, dtype=bool)
    minor[rng.choice(n, round(n * MINOR_SHARE), replace=False)] = True
    # Adults: 18 plus a gamma spread (mode about 30, mean about 42, a tenth aged 65 or more).
    age = 18 + np.minimum(rng.gamma(2.0, 12.0, n), 77).astype(int)
    # Minors: every age from 10 to 17 in turn, shuffled, so even a small demo has each kind of minor.
    age[minor] = rng.permutation(np.resize(np.arange(10, 18), int(minor.sum())))
    months_since_birthday = rng.integers(1, 12, n)  # 1..11: the birthday is never in the collection month
    collected_offset = rng.random(n)
    source = _quota(rng=rng, labels=[s.name for s in SOURCES], shares=[s.tabular_share for s in SOURCES], n=n)
    latent = rng.standard_normal(n)
    feature_noise = rng.standard_normal((n, len(FEATURES)))
    draws = rng.random((n, 12))  # every later per-person choice, drawn now so none shifts the others

    span_seconds = np.floor(collected_offset * (as_of - WINDOW_START).total_seconds())
    collected_at = pd.Timestamp(WINDOW_START) + pd.to_timedelta(span_seconds, unit="s")
    month_index = (
        collected_at.year.to_numpy() * 12 + collected_at.month.to_numpy() - 1 - (age * 12 + months_since_birthday)
    )
    birth_month = [date(int(i) // 12, int(i) % 12 + 1, 1) for i in month_index]
    people = pd.DataFrame(
        {
            "number": np.arange(1, n + 1),
            "reference": [SUBJECT_FORMAT.format(i) for i in range(1, n + 1)],
            "jurisdiction": jurisdiction,
            "sex": sex,
            "skin_tone": skin_tone,
            "minor": minor,
            "birth_month": birth_month,
            "collected_at": collected_at,
            "source": source,
            "latent": latent,
        }
    )
    people["age"] = [youngest_age_at(b, c.date()) for b, c in zip(birth_month, collected_at, strict=True)]
    people["age_band"] = [_age_band(a) for a in people["age"]]
    for index, name in enumerate(FEATURES):
        people[f"noise_{name}"] = feature_noise[:, index]
    for index in range(draws.shape[1]):
        people[f"draw_{index}"] = draws[:, index]
    return people


def _quota(*, rng: np.random.Generator, labels: list[str], shares: list[float], n: int) -> np.ndarray:
    """Exactly the shares' counts (largest remainders), in random order: even a small demo has every label."""
    exact = np.array(shares) / sum(shares) * n
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(labels, counts))


def _pick(*, eligible: np.ndarray, priority: np.ndarray, count: int) -> np.ndarray:
    """A mask of the `count` eligible rows with the lowest priority draw: exact counts, still random."""
    order = np.flatnonzero(eligible)
    chosen = order[np.argsort(priority[order], kind="stable")[:count]]
    mask = np.zeros(len(eligible), dtype=bool)
    mask[chosen] = True
    return mask


def _age_band(age: int) -> str:
    if age < 18:
        return "under_18"
    for upper, band in ((29, "18-29"), (44, "30-44"), (64, "45-64")):
        if age <= upper:
            return band
    return "65+"


def _notice_for(*, collected_at: datetime, jurisdiction: str) -> NoticeText:
    version = "2" if collected_at >= SECOND_NOTICE_FROM else "1"
    language = NOTICE_LANGUAGE.get(jurisdiction, "en")
    return next(n for n in NOTICES if n.version == version and n.language == language)


def _choose_purposes(*, people: pd.DataFrame) -> None:
    """Most grant evaluation and bias audit, some only evaluation, a few only training; minors never publication."""
    kind = people["draw_1"].to_numpy()
    granted = {
        "training": (people["draw_2"].to_numpy() < 0.45) | (kind >= 0.95),
        "evaluation": kind < 0.95,
        "bias_audit": kind < 0.9,
        "publication": (people["draw_3"].to_numpy() < 0.15) & ~people["minor"].to_numpy(),
    }
    people["purposes"] = [tuple(p for p in PURPOSES if granted[p][i]) for i in range(len(people))]


def _decide_guardians(*, people: pd.DataFrame, as_of: datetime) -> None:
    """Which minors need a guardian (GDPR Art. 8, per country); most have one, the others are refused.

    Whether an attempted grant without a guardian is refused is asked of the platform's own rule
    (`check_event`), not decided here: "refused" counts exactly what the platform would refuse.
    """
    required = np.zeros(len(people), dtype=bool)
    for index in np.flatnonzero(people["minor"].to_numpy()):
        row = people.iloc[index]
        required[index] = guardian_requirement(
            country=row["jurisdiction"], birth=row["birth_month"], collected_on=row["collected_at"].date()
        ).required
    needing = int(required.sum())
    with_guardian = round(needing * GUARDIAN_SHARE)
    if needing >= 2:  # show both cases
        with_guardian = min(max(with_guardian, 1), needing - 1)
    has_guardian = _pick(eligible=required, priority=people["draw_0"].to_numpy(), count=with_guardian)
    people["needs_guardian"] = required
    people["guardian"] = ""
    people.loc[has_guardian, "guardian"] = [GUARDIAN_FORMAT.format(i) for i in range(1, int(has_guardian.sum()) + 1)]
    refused = np.zeros(len(people), dtype=bool)
    for index in np.flatnonzero(required & ~has_guardian):
        row = people.iloc[index]
        notice = _notice_for(collected_at=row["collected_at"].to_pydatetime(), jurisdiction=row["jurisdiction"])
        verdict = rules.check_event(
            rules.ProposedEvent(
                kind=rules.GRANT, purposes=tuple(Purpose(p) for p in row["purposes"]),
                collected_at=row["collected_at"].to_pydatetime(),
                notice=rules.NoticeFacts(f"{notice.version}/{notice.language}", frozenset(PURPOSES),
                                         notice.published_at),
            ),
            subject=rules.SubjectFacts(jurisdiction=row["jurisdiction"], birth_month=row["birth_month"], erased=False),
            history=[], now=as_of,
        )  # fmt: skip
        refused[index] = not verdict.ok
    people["refused"] = refused


def _draw_consent(*, people: pd.DataFrame, rng: np.random.Generator, as_of: datetime) -> None:
    n = len(people)
    recorded = ~people["refused"].to_numpy()
    minor = people["minor"].to_numpy()
    guardian = (people["guardian"] != "").to_numpy()
    collected = people["collected_at"]
    seconds_left = (pd.Timestamp(as_of) - collected).dt.total_seconds().to_numpy()
    channel = rng.choice(CHANNELS, n, p=CHANNEL_WEIGHTS)
    channel[guardian] = "paper_form"  # a guardian signs on paper
    people["channel"] = channel
    notices = [
        _notice_for(collected_at=c.to_pydatetime(), jurisdiction=j)
        for c, j in zip(collected, people["jurisdiction"], strict=True)
    ]
    people["notice_version"] = [n.version for n in notices]
    people["notice_language"] = [n.language for n in notices]

    count = recorded.sum()
    month = 30 * 86_400
    expired = _pick(
        eligible=recorded & (seconds_left > month), priority=people["draw_4"].to_numpy(),
        count=round(count * EXPIRED_SHARE),
    )  # fmt: skip
    limited = _pick(
        eligible=recorded & ~expired, priority=people["draw_5"].to_numpy(), count=round(count * TIME_LIMITED_SHARE)
    )
    fraction = 0.05 + 0.9 * people["draw_6"].to_numpy()
    expires = pd.Series(pd.NaT, index=people.index, dtype="datetime64[ns, UTC]")
    expires[expired] = collected[expired] + pd.to_timedelta(np.floor(fraction * seconds_left)[expired], unit="s")
    expires[limited] = collected[limited] + pd.Timedelta(days=3 * 365)
    people["expires_at"] = expires

    withdrawn = _pick(
        eligible=recorded & (seconds_left > 7 * 86_400), priority=people["draw_7"].to_numpy(),
        count=round(count * WITHDRAWAL_SHARE),
    )  # fmt: skip
    at = collected + pd.to_timedelta(np.floor((0.02 + 0.96 * people["draw_8"].to_numpy()) * seconds_left), unit="s")
    people["withdrawn_at"] = at.where(withdrawn, pd.NaT)
    # Half withdraw one purpose they granted (when they granted several), the others everything.
    partial = people["draw_9"].to_numpy() < 0.5
    people["withdrawn_purposes"] = [
        (purposes[int(pick * len(purposes))],) if take and some and len(purposes) > 1 else ()
        for purposes, pick, take, some in zip(
            people["purposes"], people["draw_10"], withdrawn, partial, strict=True
        )
    ]  # fmt: skip
    people["withdrawal_channel"] = rng.choice(WITHDRAWAL_CHANNELS, n, p=WITHDRAWAL_CHANNEL_WEIGHTS)

    erasures = round(count * ERASURE_SHARE)
    if count >= 50:
        erasures = max(erasures, 1)
    people["erase"] = _pick(eligible=recorded & ~minor, priority=people["draw_11"].to_numpy(), count=erasures)


def _iso(times: pd.Series) -> pd.Series:
    return times.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").fillna("")


def _evidence(*, kind: str, seed: int, numbers) -> list[str]:
    # The SHA-256 of the (synthetic) signed form or capture that proves the event.
    return [hashlib.sha256(f"FORM-{seed}-{kind}-{number:06d}".encode()).hexdigest() for number in numbers]


def _events_frame(*, people: pd.DataFrame, seed: int) -> pd.DataFrame:
    granted = people[~people["refused"]]
    grants = pd.DataFrame(
        {
            "event_id": EVENT_PREFIX + "G-" + granted["reference"],
            "subject": granted["reference"],
            "jurisdiction": granted["jurisdiction"],
            "birth_month": [b.strftime("%Y-%m") for b in granted["birth_month"]],
            "kind": EventKind.GRANT.value,
            "purposes": granted["purposes"].map(";".join),
            "notice_version": granted["notice_version"],
            "notice_language": granted["notice_language"],
            "channel": granted["channel"],
            "collected_at": _iso(granted["collected_at"]),
            "expires_at": _iso(granted["expires_at"]),
            "evidence_hash": _evidence(kind="G", seed=seed, numbers=granted["number"]),
            "guardian": granted["guardian"],
        }
    )
    leaving = people[people["withdrawn_at"].notna()]
    withdrawals = pd.DataFrame(
        {
            "event_id": EVENT_PREFIX + "W-" + leaving["reference"],
            "subject": leaving["reference"],
            "jurisdiction": "",
            "birth_month": "",
            "kind": EventKind.WITHDRAWAL.value,
            "purposes": leaving["withdrawn_purposes"].map(";".join),  # empty: every purpose
            "notice_version": "",
            "notice_language": "",
            "channel": leaving["withdrawal_channel"],
            "collected_at": _iso(leaving["withdrawn_at"]),
            "expires_at": "",
            "evidence_hash": _evidence(kind="W", seed=seed, numbers=leaving["number"]),
            "guardian": "",
        }
    )
    # In collection order, as an export from the consent platform would be.
    events = pd.concat([grants, withdrawals], ignore_index=True)
    return events.sort_values(["collected_at", "event_id"], kind="stable", ignore_index=True)


def _items_frame(*, people: pd.DataFrame, rng: np.random.Generator, images: int) -> pd.DataFrame:
    recorded = people[~people["refused"]]
    quarter = recorded["collected_at"].dt.year.astype(str) + "Q" + recorded["collected_at"].dt.quarter.astype(str)
    common = {
        "subject": recorded["reference"].to_numpy(),
        "skin_tone": recorded["skin_tone"].astype(str).to_numpy(),
        "sex": recorded["sex"].to_numpy(),
        "age_band": recorded["age_band"].to_numpy(),
        "delivery": quarter.to_numpy(),
    }
    tabular = pd.DataFrame(
        {
            "item_ref": [f"ITEM-{number:06d}" for number in recorded["number"]],
            "source": recorded["source"].to_numpy(),
            "kind": "tabular",
            **common,
            **_features(recorded),
            "image_path": "",
        }
    )
    chosen = _pick(
        eligible=np.ones(len(recorded), dtype=bool),
        priority=rng.random(len(recorded)),
        count=min(images, len(recorded)),
    )
    pictured = recorded[chosen]
    image_rows = pd.DataFrame(
        {
            "item_ref": [f"IMG-{number:06d}" for number in pictured["number"]],
            "source": _quota(
                rng=rng, labels=[s.name for s in SOURCES], shares=[s.image_share for s in SOURCES], n=len(pictured)
            ),
            "kind": "image",
            **{name: values[chosen] for name, values in common.items()},
            **{name: np.nan for name in FEATURES},
            "image_path": [f"IMG-{number:06d}.png" for number in pictured["number"]],
        }
    )
    return pd.concat([tabular, image_rows], ignore_index=True)


def _features(people: pd.DataFrame) -> dict[str, np.ndarray]:
    """Eight features, each correlated with the latent score by its loading, in plausible units."""
    latent = people["latent"].to_numpy()
    age = people["age"].to_numpy()
    tone = people["skin_tone"].to_numpy()
    z = {
        name: loading * latent + np.sqrt(1 - loading**2) * people[f"noise_{name}"].to_numpy()
        for name, loading in zip(FEATURES, LOADINGS, strict=True)
    }
    return {
        "feature_income": np.round(np.exp(3.6 + 0.35 * z["feature_income"]), 1),  # household, k EUR a year
        "feature_tenure": np.round(np.clip(3.5 + 2.5 * z["feature_tenure"] + 0.05 * (age - 35), 0, None), 1),  # years
        "feature_activity": np.clip(np.round(12 + 6 * z["feature_activity"]), 0, 31),  # active days a month
        "feature_history": np.clip(np.round(4 + 2.5 * z["feature_history"]), 0, None),  # past applications
        # A regional index that follows skin tone as well as the latent score.
        "feature_region": np.round(np.clip(50 + 10 * (z["feature_region"] + 0.6 * (tone - 5.5)), 0, 100), 2),
        "feature_device": np.round(np.clip(3 + 1.2 * z["feature_device"], 0.1, 10), 1),  # device age, years
        "feature_sessions": np.clip(np.round(18 + 8 * z["feature_sessions"]), 0, None),  # sessions in 30 days
        "feature_rating": np.round(np.clip(3.6 + 0.7 * z["feature_rating"], 1, 5), 1),  # satisfaction, 1 to 5
    }


def face_image(*, skin_tone: int, seed: int, number: int) -> Image.Image:
    """A 64x64 face-like drawing whose skin colour follows the Monk scale, with its own noise."""
    rng = np.random.default_rng([seed, number])
    background = tuple(int(v) for v in rng.integers(150, 230, 3))
    image = Image.new("RGB", (64, 64), background)
    draw = ImageDraw.Draw(image)
    skin = tuple(int(np.clip(c + rng.normal(0, 6), 0, 255)) for c in MONK_RGB[skin_tone - 1])
    hair = tuple(int(v) for v in rng.integers(20, 120, 3))
    width = int(rng.integers(-3, 4))
    draw.ellipse((12 - width, 4, 52 + width, 30), fill=hair)
    draw.ellipse((14 - width, 8, 50 + width, 56), fill=skin)
    eye = (30, 30, 30)
    draw.ellipse((22, 24, 28, 29), fill=eye)
    draw.ellipse((36, 24, 42, 29), fill=eye)
    draw.arc((24, 36, 40, 48), 20, 160, fill=(120, 40, 40), width=2)
    noise = rng.integers(0, 12, (64, 64, 3), dtype=np.int16)
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.int16) + noise - 6, 0, 255).astype(np.uint8))


# Writing it through the real path -----------------------------------------------------------------


@dataclass
class DemoSummary:
    seed: int
    people: int = 0
    subjects: int = 0
    refused_grants: int = 0
    minors: int = 0
    minors_needing_guardian: int = 0
    minors_with_guardian: int = 0
    events_by_kind: dict[str, int] = field(default_factory=dict)
    partial_withdrawals: int = 0
    grants_with_expiry: int = 0
    expired_grants: int = 0
    active_for_evaluation: int = 0
    jurisdictions: dict[str, int] = field(default_factory=dict)
    deliveries: int = 0
    items: int = 0
    live_items_by_copyright: dict[str, int] = field(default_factory=dict)
    images: int = 0
    live_images: int = 0
    attribute_mix: dict[str, dict[str, int]] = field(default_factory=dict)
    erasures: int = 0


def default_images(subjects: int) -> int:
    return min(subjects, DEFAULT_MAX_IMAGES)


def seed_population(
    *, subjects: int, images: int | None = None, seed: int = DEFAULT_SEED, actor: Actor | None = None
) -> DemoSummary:
    """Build the demo population in the current database, all or nothing; refuses to run twice."""
    actor = actor or Actor.system("seed_demo")
    images = default_images(subjects) if images is None else images
    with removed_unless_committed(), transaction.atomic():
        _refuse_if_present()
        population = plan_population(subjects=subjects, images=images, seed=seed, now=timezone.now())
        _publish_notices(actor=actor)
        events = population.events
        import_consent_events(
            actor=actor, frame=events, source_name=f"seed_demo consent events (synthetic, seed {seed})",
            source_sha256=sha256_hex(events.to_csv(index=False).encode("utf-8")),
        )  # fmt: skip
        dataset = _register_dataset(actor=actor)
        _import_items(actor=actor, dataset=dataset, population=population)
        for reference in population.erasures:
            services.erase_subject(
                actor=actor, subject=Subject.objects.get(reference=reference), channel="email",
                event_id=f"{EVENT_PREFIX}E-{reference}",
            )  # fmt: skip
        return _summarise(population=population, dataset=dataset, now=timezone.now())


def _refuse_if_present() -> None:
    checks = [
        (Dataset.objects.filter(name=DEMO_DATASET), f"dataset {DEMO_DATASET!r}"),
        (ConsentEvent.objects.filter(event_id__startswith=EVENT_PREFIX), f"consent events {EVENT_PREFIX}..."),
        (Subject.objects.filter(reference=SUBJECT_FORMAT.format(1)), f"subject {SUBJECT_FORMAT.format(1)}"),
        (Notice.objects.filter(version=NOTICES[0].version, language="en"), f"notice {NOTICES[0].version}/en"),
    ]
    for queryset, what in checks:
        if queryset.exists():
            raise DemoError(ALREADY_SEEDED.format(what=what))


def _publish_notices(*, actor: Actor) -> list[Notice]:
    return [
        services.publish_notice(
            actor=actor,
            version=n.version,
            language=n.language,
            title=n.title,
            text=n.text,
            purposes=PURPOSES,
            published_at=n.published_at,
        )
        for n in NOTICES
    ]


def _register_dataset(*, actor: Actor) -> Dataset:
    schema = services.register_attribute_schema(actor=actor, name="faces", version="1", definition=SCHEMA)
    dataset = services.register_dataset(
        actor=actor, name=DEMO_DATASET, version=DEMO_DATASET_VERSION, attribute_schema=schema, **DATASHEET
    )
    for source in SOURCES:
        services.add_source(
            actor=actor, dataset=dataset, name=source.name, origin=source.origin, licence=source.licence,
            copyright_status=source.copyright_status, collection_start=source.collection_start,
            collection_end=source.collection_end,
        )  # fmt: skip
    return dataset


def _import_items(*, actor: Actor, dataset: Dataset, population: Population) -> None:
    """One import per quarter, as a collection pipeline delivers them.

    Each delivery gets its own feature file, which also keeps erasure cheap: erasing a subject
    rewrites the feature file that holds their row.
    """
    items = population.items
    with tempfile.TemporaryDirectory(prefix="seed-demo-images-") as folder:
        for row in items[items["kind"] == "image"].itertuples():
            number = int(row.item_ref.removeprefix("IMG-"))
            face_image(skin_tone=int(row.skin_tone), seed=population.seed, number=number).save(
                Path(folder) / row.image_path
            )
        for delivery, rows in items.groupby("delivery", sort=True):
            import_items(
                actor=actor, dataset=dataset, frame=rows.drop(columns=["delivery"]),
                source_name=f"seed_demo delivery {delivery} (synthetic, seed {population.seed})", source_sha256="",
                files_dir=Path(folder),
            )  # fmt: skip


def _summarise(*, population: Population, dataset: Dataset, now: datetime) -> DemoSummary:
    people = population.people
    events = ConsentEvent.objects.filter(event_id__startswith=EVENT_PREFIX)
    grants = events.filter(kind=EventKind.GRANT)
    items = DataItem.objects.filter(dataset=dataset)
    live = items.filter(erased_at__isnull=True)
    demo_subjects = Subject.objects.filter(pk__in=events.values("subject_id"))
    attribute_mix: dict[str, Counter] = {name: Counter() for name in ("skin_tone", "sex", "age_band")}
    monk = dataset.attribute_schema.rules().attributes["skin_tone"]
    for (attributes,) in live.filter(kind="tabular").values_list("attributes").iterator(chunk_size=20_000):
        attribute_mix["skin_tone"][monk.band_of("monk_3", attributes["skin_tone"])] += 1
        attribute_mix["sex"][attributes["sex"]] += 1
        attribute_mix["age_band"][attributes["age_band"]] += 1
    return DemoSummary(
        seed=population.seed,
        people=len(people),
        subjects=demo_subjects.count(),
        refused_grants=int(people["refused"].sum()),
        minors=int(people["minor"].sum()),
        minors_needing_guardian=int(people["needs_guardian"].sum()),
        minors_with_guardian=GuardianConsent.objects.filter(event__in=grants).count(),
        events_by_kind=dict(events.values_list("kind").annotate(n=Count("pk")).order_by("kind")),
        partial_withdrawals=events.filter(kind=EventKind.WITHDRAWAL).exclude(purpose_mask=ALL_PURPOSES_MASK).count(),
        grants_with_expiry=grants.filter(expires_at__isnull=False).count(),
        expired_grants=grants.filter(expires_at__lte=now).count(),
        active_for_evaluation=len(subjects_with_active_consent(Purpose.EVALUATION, now, subjects=demo_subjects)),
        jurisdictions=dict(
            demo_subjects.exclude(jurisdiction="").values_list("jurisdiction").annotate(n=Count("pk")).order_by("-n")
        ),
        deliveries=ImportBatch.objects.filter(kind=ImportBatch.Kind.ITEMS, source_name__startswith="seed_demo").count(),
        items=items.count(),
        live_items_by_copyright=dict(
            live.values_list("source__copyright_status").annotate(n=Count("pk")).order_by("-n")
        ),
        images=items.filter(kind="image").count(),
        live_images=live.filter(kind="image").count(),
        attribute_mix={
            "skin_tone": {band: attribute_mix["skin_tone"][band] for band in monk.bandings["monk_3"]},
            "sex": {value: attribute_mix["sex"][value] for value in SEXES},
            "age_band": {value: attribute_mix["age_band"][value] for value in SCHEMA["age_band"]["values"]},
        },
        erasures=events.filter(kind=EventKind.ERASURE).count(),
    )


DEMO_USERS = {"steward": Role.DATA_STEWARD, "officer": Role.COMPLIANCE_OFFICER, "auditor": Role.AUDITOR}


def create_demo_users(*, password: str) -> list[str]:
    """One staff user per role, for signing in to a local demo; never run against real data."""
    users = get_user_model().objects
    for username, role in DEMO_USERS.items():
        user = users.create_user(username, password=password, is_staff=True)
        user.groups.add(Group.objects.get(name=role.label))
    return list(DEMO_USERS)
