"""A synthetic population for the demo and for trying the platform: no real people.

Everything goes through the real path: notices are published by the service, consent arrives
as one atomic import, items (tabular features and small generated face-like images) arrive
through the item importer, and erasure requests go through the erasure service. So the
population obeys every rule the platform enforces, and a grant that a rule refuses (a minor
without a guardian) is counted as refused rather than recorded.
"""

import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from PIL import Image, ImageDraw

from consent import services
from consent.importing.consent_events import import_consent_events
from consent.importing.items import import_items
from consent.models import CopyrightStatus, Dataset, Subject
from consent.rules.age_of_consent import CURRENT as AGE_TABLE
from consent.rules.age_of_consent import youngest_age_at
from core.audit_log import Actor
from core.models import Role

DEMO_DATASET = "demo-faces"
FIRST_NOTICE = "2024.1"
ALREADY_SEEDED = (
    "demo data already present (dataset {name!r}); start from an empty database: "
    "delete var/ or point DATABASE_URL at a fresh one"
)

COUNTRIES = ["DE", "FR", "IT", "ES", "PL", "NL", "BE", "AT", "IE", "SE", "PT", "CZ"]
COUNTRY_WEIGHTS = [0.2, 0.16, 0.14, 0.11, 0.09, 0.06, 0.05, 0.04, 0.04, 0.04, 0.04, 0.03]
# The Monk scale in a European-heavy sample: mostly light to medium tones, a real minority of dark ones.
SKIN_TONE_WEIGHTS = [0.07, 0.16, 0.2, 0.17, 0.12, 0.09, 0.07, 0.05, 0.04, 0.03]
MONK_RGB = [
    (246, 237, 228), (243, 231, 219), (247, 234, 208), (234, 218, 186), (215, 189, 150),
    (160, 126, 86), (130, 92, 67), (96, 65, 52), (58, 49, 42), (41, 36, 32),
]  # fmt: skip
PROXY_FEATURE = "feature_region"
FEATURES = ["feature_income", "feature_tenure", "feature_activity", "feature_history", "feature_region",
            "feature_device", "feature_sessions", "feature_rating"]  # fmt: skip

SCHEMA = {
    "skin_tone": {
        "label": "Monk skin tone scale (1 lightest, 10 darkest)",
        "values": [str(v) for v in range(1, 11)],
        "ordinal": True,
        "bandings": {"monk_3": {"light": ["1", "2", "3"], "medium": ["4", "5", "6", "7"], "dark": ["8", "9", "10"]}},
    },
    "sex": {"values": ["female", "male"]},
    "age_band": {"values": ["under_18", "18-29", "30-44", "45-64", "65+"], "ordinal": True},
}

SOURCES = [
    # name, origin, licence, copyright status, share of items
    ("studio-2024", "Own studio sessions with volunteers, Berlin and Lyon", "NOASSERTION", CopyrightStatus.OWNED, 0.45),
    ("partner-panel", "Research panel run by a partner university", "CC-BY-4.0", CopyrightStatus.LICENSED, 0.3),
    ("open-faces", "Public-domain portrait collection", "CC0-1.0", CopyrightStatus.PUBLIC_DOMAIN, 0.12),
    ("legacy-archive", "Archive inherited from an acquired company", "NOASSERTION", CopyrightStatus.UNKNOWN, 0.08),
    ("web-collected", "Images collected from the web in 2023", "NOASSERTION", CopyrightStatus.DISPUTED, 0.05),
]


@dataclass
class DemoSummary:
    subjects: int = 0
    events_by_kind: dict[str, int] = field(default_factory=dict)
    refused_grants: int = 0
    minors: int = 0
    minors_with_guardian: int = 0
    expired_grants: int = 0
    items_by_copyright: dict[str, int] = field(default_factory=dict)
    images: int = 0
    erasures: int = 0


def seed(*, subjects: int, images: int, seed: int = 2026, actor: Actor | None = None) -> DemoSummary:
    """Build the demo population in the current database, all or nothing; refuses to run twice."""
    if Dataset.objects.filter(name=DEMO_DATASET).exists():
        raise ValueError(ALREADY_SEEDED.format(name=DEMO_DATASET))
    with transaction.atomic():
        return _seed(subjects=subjects, images=images, seed=seed, actor=actor or Actor.system("seed_demo"))


def _seed(*, subjects: int, images: int, seed: int, actor: Actor) -> DemoSummary:
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    summary = DemoSummary()

    notice = _publish_notices(actor)
    people = _people(rng, subjects, now)
    events, refused = _consent_events(rng, people, notice, now)
    import_consent_events(actor=actor, frame=events, source_name="seed_demo (synthetic)", source_sha256="")
    summary.subjects = subjects
    summary.events_by_kind = events["kind"].value_counts().to_dict()
    summary.refused_grants = refused
    summary.minors = int(people["below_age_of_consent"].sum())
    summary.minors_with_guardian = int((events["guardian"] != "").sum())
    expires = pd.to_datetime(events["expires_at"].replace("", None), utc=True)
    summary.expired_grants = int((expires < pd.Timestamp(now)).sum())

    dataset = _dataset(actor)
    with tempfile.TemporaryDirectory(prefix="seed-demo-images-") as folder:
        items = _items(rng, people, images, Path(folder))
        import_items(
            actor=actor, dataset=dataset, frame=items, source_name="seed_demo (synthetic)", source_sha256="",
            files_dir=Path(folder),
        )  # fmt: skip
    summary.items_by_copyright = _copyright_counts(items)
    summary.images = int((items["kind"] == "image").sum())

    erased = people[people["erase"]]
    for reference in erased["reference"]:
        services.erase_subject(
            actor=actor, subject=Subject.objects.get(reference=reference), channel="email",
            event_id=f"DEMO-ERASE-{reference}",
        )  # fmt: skip
    summary.erasures = len(erased)
    summary.events_by_kind["erasure"] = summary.erasures
    return summary


def _publish_notices(actor):
    services.publish_notice(
        actor=actor, version=FIRST_NOTICE, language="en", title="Taking part in our model evaluations",
        text=("We ask to use your photo and profile to check that our face-analysis model works equally well "
              "for everyone. You can withdraw at any time."),
        purposes=["training", "evaluation", "bias_audit", "publication"],
        published_at=datetime(2024, 1, 15, tzinfo=UTC),
    )  # fmt: skip
    return services.publish_notice(
        actor=actor, version="2025.1", language="en", title="Taking part in our model evaluations",
        text=("We ask to use your photo and profile to evaluate our face-analysis model and to examine it for "
              "bias (EU AI Act Art. 10). Results are only published in aggregate. You can withdraw at any time."),
        purposes=["training", "evaluation", "bias_audit", "publication"],
        published_at=datetime(2025, 1, 15, tzinfo=UTC),
    )  # fmt: skip


def _people(rng, n: int, now: datetime) -> pd.DataFrame:
    first_day = datetime(2024, 2, 1, tzinfo=UTC)
    span = (min(now, datetime(2026, 10, 31, tzinfo=UTC)) - first_day).total_seconds()
    collected = [first_day + timedelta(seconds=float(s)) for s in rng.uniform(0, span, n)]
    minor = rng.random(n) < 0.05
    adult_age = np.clip(rng.gamma(4.0, 10.0, n) + 18, 18, 90)
    age_years = np.where(minor, rng.integers(10, 18, n), adult_age)
    birth = [
        _month_back(c.date(), int(a * 12) + int(rng.integers(0, 12))) for c, a in zip(collected, age_years, strict=True)
    ]
    people = pd.DataFrame(
        {
            "reference": [f"SUBJ-{i:06d}" for i in range(1, n + 1)],
            "jurisdiction": rng.choice(COUNTRIES, n, p=COUNTRY_WEIGHTS),
            "birth": birth,
            "collected_at": collected,
            "minor": minor,
            "skin_tone": rng.choice(np.arange(1, 11), n, p=SKIN_TONE_WEIGHTS),
            "sex": rng.choice(["female", "male"], n),
        }
    )
    people["below_age_of_consent"] = [
        youngest_age_at(b, c.date()) < AGE_TABLE.age_for(j)
        for b, c, j in zip(people["birth"], people["collected_at"], people["jurisdiction"], strict=True)
    ]
    people["has_guardian"] = people["below_age_of_consent"] & (rng.random(n) < 0.7)
    people["erase"] = (rng.random(n) < 0.01) & ~people["below_age_of_consent"]
    return people


def _month_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _consent_events(rng, people: pd.DataFrame, notice, now: datetime) -> tuple[pd.DataFrame, int]:
    rows, refused = [], 0
    channels = ["web_form", "in_app", "paper_form"]
    for person in people.itertuples():
        if person.below_age_of_consent and not person.has_guardian:
            refused += 1  # the platform would refuse this grant: no guardian for a minor
            continue
        purposes = ["evaluation", "bias_audit"]
        if rng.random() < 0.5:
            purposes.append("training")
        if rng.random() < 0.2:
            purposes.append("publication")
        shown_notice = notice.version if person.collected_at >= notice.published_at else FIRST_NOTICE
        expires = ""
        if rng.random() < 0.08:
            expiry = person.collected_at + timedelta(days=int(rng.integers(60, 365)))
            expires = expiry.isoformat()
        rows.append({
            "event_id": f"DEMO-G-{person.reference}", "subject": person.reference,
            "jurisdiction": person.jurisdiction, "birth_month": person.birth.strftime("%Y-%m"), "kind": "grant",
            "purposes": ";".join(purposes), "notice_version": shown_notice,
            "channel": channels[int(rng.integers(0, 3))], "collected_at": person.collected_at.isoformat(),
            "expires_at": expires, "evidence_hash": hashlib.sha256(f"form-{person.reference}".encode()).hexdigest(),
            "guardian": f"GUARD-{person.Index + 1:06d}" if person.has_guardian else "",
        })  # fmt: skip
        if rng.random() < 0.08:
            withdrawn_at = person.collected_at + timedelta(days=int(rng.integers(1, 400)))
            if withdrawn_at < now:
                some = rng.random() < 0.5
                rows.append({
                    "event_id": f"DEMO-W-{person.reference}", "subject": person.reference, "jurisdiction": "",
                    "birth_month": "", "kind": "withdrawal", "purposes": "bias_audit" if some else "",
                    "notice_version": "", "channel": "email", "collected_at": withdrawn_at.isoformat(),
                    "expires_at": "", "evidence_hash": "", "guardian": "",
                })  # fmt: skip
    return pd.DataFrame(rows), refused


def _dataset(actor) -> Dataset:
    schema = services.register_attribute_schema(actor=actor, name="faces", version="1", definition=SCHEMA)
    dataset = services.register_dataset(
        actor=actor, name=DEMO_DATASET, version="2026.4", attribute_schema=schema,
        motivation="Evaluate the face-analysis scoring model for group score gaps each quarter.",
        collection_process=("Synthetic: generated by seed_demo to resemble studio, partner-panel, public-domain, "
                            "archive and web-collected sources. No real person is represented."),
        known_limitations=("Skin tones 8-10 and people over 65 are under-represented; web-collected images have "
                           "disputed copyright and should be excluded from evaluation sets."),
    )  # fmt: skip
    for name, origin, licence, status, _ in SOURCES:
        services.add_source(
            actor=actor, dataset=dataset, name=name, origin=origin, licence=licence, copyright_status=status,
            collection_start=date(2023, 1, 1), collection_end=date(2026, 10, 31),
        )  # fmt: skip
    return dataset


def _age_band(birth: date, on: date) -> str:
    age = youngest_age_at(birth, on)
    if age < 18:
        return "under_18"
    for upper, band in ((29, "18-29"), (44, "30-44"), (64, "45-64")):
        if age <= upper:
            return band
    return "65+"


def _items(rng, people: pd.DataFrame, n_images: int, folder: Path) -> pd.DataFrame:
    consented = people[~(people["below_age_of_consent"] & ~people["has_guardian"])]
    n = len(consented)
    source_names = [s[0] for s in SOURCES]
    sources = rng.choice(source_names, n, p=[s[4] for s in SOURCES])
    latent = rng.normal(0, 1, n)
    tone = consented["skin_tone"].to_numpy()
    frame = pd.DataFrame({
        "item_ref": [f"ITEM-{r[5:]}" for r in consented["reference"]],
        "subject": consented["reference"].to_numpy(),
        "source": sources,
        "kind": "tabular",
        "skin_tone": tone.astype(str),
        "sex": consented["sex"].to_numpy(),
        "age_band": [
            _age_band(birth, collected.date())
            for birth, collected in zip(consented["birth"], consented["collected_at"], strict=True)
        ],
    })  # fmt: skip
    for index, name in enumerate(FEATURES):
        weight = 0.3 + 0.1 * index
        values = weight * latent + rng.normal(0, 1, n)
        if name == PROXY_FEATURE:
            # A proxy of skin tone, as postcode or device often are in real data: what lets a model
            # that never sees the attribute still treat the groups differently.
            values = values + 0.6 * (tone - 5.5)
        frame[name] = np.round(values, 4).astype(str)
    frame["image_path"] = ""
    with_images = rng.choice(n, min(n_images, n), replace=False)
    image_rows = frame.iloc[with_images].copy()
    image_rows["item_ref"] = image_rows["item_ref"].str.replace("ITEM-", "IMG-")
    image_rows["kind"] = "image"
    for name in FEATURES:
        image_rows[name] = ""
    paths = []
    for row_number, row in enumerate(image_rows.itertuples()):
        path = f"{row.item_ref}.png"
        _face(int(row.skin_tone), rng, row_number).save(folder / path)
        paths.append(path)
    image_rows["image_path"] = paths
    return pd.concat([frame, image_rows], ignore_index=True)


def _face(skin_tone: int, rng, variant: int) -> Image.Image:
    """A 64x64 face-like drawing whose skin colour follows the Monk scale, with per-image noise."""
    background = tuple(int(v) for v in rng.integers(150, 230, 3))
    image = Image.new("RGB", (64, 64), background)
    draw = ImageDraw.Draw(image)
    skin = tuple(int(np.clip(c + rng.normal(0, 6), 0, 255)) for c in MONK_RGB[skin_tone - 1])
    draw.ellipse((14, 8, 50, 56), fill=skin)
    eye = (30, 30, 30)
    draw.ellipse((22, 24, 28, 29), fill=eye)
    draw.ellipse((36, 24, 42, 29), fill=eye)
    draw.arc((24, 36, 40, 48), 20, 160, fill=(120, 40, 40), width=2)
    noise = rng.integers(0, 12, (64, 64, 3), dtype=np.uint8)
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.int16) + noise - 6, 0, 255).astype(np.uint8))


def _copyright_counts(items: pd.DataFrame) -> dict[str, int]:
    status = {name: str(s) for name, _, _, s, _ in SOURCES}
    return items["source"].map(status).value_counts().to_dict()


DEMO_USERS = {"steward": Role.DATA_STEWARD, "officer": Role.COMPLIANCE_OFFICER, "auditor": Role.AUDITOR}


def create_demo_users(*, password: str) -> list[str]:
    """One staff user per role, for signing in to a local demo; never run against real data."""
    users = get_user_model().objects
    for username, role in DEMO_USERS.items():
        user = users.create_user(username, password=password, is_staff=True)
        user.groups.add(Group.objects.get(name=role.label))
    return list(DEMO_USERS)
