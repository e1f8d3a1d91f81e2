import io
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image

from consent import demo, ledger
from consent.features import absolute_path
from consent.models import ConsentEvent, DataItem, FeatureFile, GuardianConsent, ImportBatch, Source, Subject
from consent.rules.age_of_consent import guardian_requirement
from consent.rules.purposes import ALL_PURPOSES_MASK, Purpose
from consent.selectors import subjects_with_active_consent
from core.models import AuditLogEntry

SUBJECTS, SEED = 200, 1


@pytest.fixture
def roots(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings


@pytest.fixture
def seeded(db, roots, django_capture_on_commit_callbacks):
    out = io.StringIO()
    # Run the commit hooks too: erasure deletes files only once its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", subjects=SUBJECTS, seed=SEED, stdout=out)
    return out.getvalue()


@pytest.fixture
def plan():
    return demo.plan_population(subjects=SUBJECTS, images=SUBJECTS, seed=SEED, now=datetime.now(UTC))


def number(text: str, pattern: str) -> int:
    return int(re.search(pattern, text).group(1).replace(",", ""))


def test_it_seeds_a_population_whose_ledger_verifies(seeded):
    assert f"Seeded a synthetic population of {SUBJECTS} people (seed {SEED}" in seeded
    check = ledger.verify()
    assert check.ok
    assert f"Ledger: {check.summary()}" in seeded
    assert seeded.rstrip().endswith("chain intact")
    assert check.count == ConsentEvent.objects.count() > SUBJECTS * 0.9


def test_it_goes_through_the_real_imports_and_services(seeded):
    batches = ImportBatch.objects.order_by("imported_at", "pk")
    assert batches.filter(kind=ImportBatch.Kind.CONSENT).count() == 1  # the whole history in one atomic import
    assert batches.filter(kind=ImportBatch.Kind.ITEMS).count() == number(seeded, r"in (\d+) quarterly deliveries")
    erasures = ConsentEvent.objects.filter(kind="erasure")
    assert erasures.exists() and not erasures.filter(import_batch__isnull=False).exists()
    actions = list(AuditLogEntry.objects.values_list("action", flat=True))
    assert actions.count("notice.publish") == len(demo.NOTICES)
    assert actions.count("consent.import") == 1
    assert actions.count("dataset.register") == 1 and actions.count("source.add") == len(demo.SOURCES)
    assert actions.count("subject.erase") == erasures.count()


def test_subjects_are_pseudonymous_and_spread_over_eu_states(seeded):
    references = list(Subject.objects.exclude(reference=None).values_list("reference", flat=True))
    assert references and all(re.fullmatch(r"SUBJ-\d{6}", r) for r in references)
    countries = set(Subject.objects.exclude(jurisdiction="").values_list("jurisdiction", flat=True))
    assert {"DE", "FR", "IT"} <= countries <= set(demo.COUNTRY_POPULATION)


def test_it_records_withdrawals_of_some_and_of_all_purposes(seeded):
    withdrawals = ConsentEvent.objects.filter(kind="withdrawal")
    assert withdrawals.filter(purpose_mask=ALL_PURPOSES_MASK).exists()
    assert withdrawals.exclude(purpose_mask=ALL_PURPOSES_MASK).exists()
    assert number(seeded, r"([\d,]+) withdrawals") == withdrawals.count()


def test_some_grants_have_already_expired_and_are_no_longer_active(seeded):
    now = timezone.now()
    expired = ConsentEvent.objects.filter(kind="grant", expires_at__lte=now)
    assert expired.exists()
    assert ConsentEvent.objects.filter(kind="grant", expires_at__gt=now).exists()  # time-limited, still running
    active = subjects_with_active_consent(Purpose.EVALUATION, now)
    assert not active & set(expired.values_list("subject_id", flat=True))
    assert number(seeded, r"already expired: ([\d,]+)") == expired.count()
    assert number(seeded, r"consent for evaluation active now: ([\d,]+)") == len(active)


def test_minors_below_the_age_of_consent_have_a_guardian_or_are_refused(seeded, plan):
    guardians = GuardianConsent.objects.select_related("event__subject")
    assert guardians.exists()
    for guardian in guardians:
        subject = guardian.event.subject
        assert re.fullmatch(r"GUARD-\d{6}", guardian.reference)
        requirement = guardian_requirement(
            country=subject.jurisdiction, birth=subject.birth_month, collected_on=guardian.event.collected_at.date()
        )
        assert requirement.required, requirement
    refused = plan.refused["reference"].tolist()
    assert refused, "the demo should show a refused grant"
    assert not Subject.objects.filter(reference__in=refused).exists()
    assert number(seeded, r"not recorded\): (\d+)") == len(refused)
    assert number(seeded, r"of whom (\d+) with a guardian") == guardians.count()


def test_items_come_from_sources_of_every_copyright_status(seeded):
    licences = dict(Source.objects.values_list("copyright_status", "licence"))
    assert set(licences) == {"owned", "licensed", "public_domain", "unknown", "disputed"}
    assert (licences["licensed"], licences["public_domain"], licences["unknown"]) == (
        "CC-BY-4.0",
        "CC0-1.0",
        "NOASSERTION",
    )
    live = DataItem.objects.filter(erased_at__isnull=True)
    assert live.filter(source__copyright_status="disputed").exists()
    assert live.filter(source__copyright_status="unknown").exists()


def test_every_live_subject_has_one_tabular_item_with_eight_correlated_features(seeded):
    tabular = DataItem.objects.filter(kind="tabular", erased_at__isnull=True)
    assert tabular.count() == Subject.objects.filter(erased_at__isnull=True).count()
    frame = pd.concat(pq.read_table(absolute_path(f)).to_pandas() for f in FeatureFile.objects.all())
    assert set(frame["item_id"]) == set(tabular.values_list("pk", flat=True))
    assert sorted(c for c in frame.columns if c.startswith("feature_")) == sorted(demo.FEATURES)
    correlation = frame[demo.FEATURES].corr()
    assert correlation.loc["feature_income", "feature_activity"] > 0.2  # both follow the latent score
    assert correlation.loc["feature_income", "feature_device"] < 0


def test_image_items_have_their_files_on_disk(seeded, roots):
    images = DataItem.objects.filter(kind="image", erased_at__isnull=True)
    assert images.count() > 0
    # --images defaults to min(N, 300): every recorded subject here, the erased ones' images cleared.
    assert DataItem.objects.filter(kind="image").count() == Subject.objects.count()
    for item in images:
        path = Path(roots.MEDIA_ROOT) / item.image.name
        assert path.is_file()
        with Image.open(path) as picture:
            assert picture.size == (64, 64)


def test_erased_subjects_keep_no_reference_and_no_item_data(seeded, roots):
    erased = Subject.objects.filter(erased_at__isnull=False)
    assert erased.exists()
    assert number(seeded, r"Erasure requests processed: (\d+)") == erased.count()
    assert set(erased.values_list("reference", "jurisdiction", "birth_month", "salt")) == {(None, "", None, "")}
    assert not GuardianConsent.objects.filter(event__subject__in=erased).exists()
    items = DataItem.objects.filter(subject__in=erased)
    assert items.exists()
    assert all(values == ({}, "", "") for values in items.values_list("attributes", "content_hash", "image"))
    features = pd.concat(pq.read_table(absolute_path(f)).to_pandas() for f in FeatureFile.objects.all())
    assert not set(features["item_id"]) & set(items.values_list("pk", flat=True))
    kept = {p.name for p in Path(roots.MEDIA_ROOT).rglob("*.png")}
    live = {
        Path(n).name for n in DataItem.objects.filter(kind="image").exclude(image="").values_list("image", flat=True)
    }
    assert kept == live


def test_running_it_twice_fails_clearly(seeded):
    events = ConsentEvent.objects.count()
    with pytest.raises(CommandError, match="demo data already present.*fresh database"):
        call_command("seed_demo", subjects=10, stdout=io.StringIO())
    assert ConsentEvent.objects.count() == events


def test_it_refuses_an_empty_population(db):
    with pytest.raises(CommandError, match="--subjects must be at least 1"):
        call_command("seed_demo", subjects=0, stdout=io.StringIO())


def test_the_same_seed_gives_the_same_attribute_mix(seeded, plan):
    again = demo.plan_population(subjects=SUBJECTS, images=SUBJECTS, seed=SEED, now=datetime.now(UTC))
    pd.testing.assert_frame_equal(plan.items, again.items)
    pd.testing.assert_frame_equal(plan.events, again.events)
    other = demo.plan_population(subjects=SUBJECTS, images=SUBJECTS, seed=SEED + 1, now=datetime.now(UTC))
    assert not plan.items["skin_tone"].equals(other.items["skin_tone"])

    planned = plan.items.set_index("item_ref")
    stored = DataItem.objects.filter(erased_at__isnull=True).values_list("item_ref", "attributes", "source__name")
    assert len(stored) > 0
    for item_ref, attributes, source in stored:
        row = planned.loc[item_ref]
        assert attributes == {"skin_tone": row["skin_tone"], "sex": row["sex"], "age_band": row["age_band"]}
        assert source == row["source"]


def test_the_attribute_mix_is_realistic():
    people = demo.plan_population(subjects=20_000, images=0, seed=5, now=datetime.now(UTC)).people
    assert people["sex"].value_counts(normalize=True)["female"] == pytest.approx(0.51, abs=0.02)
    tones = people["skin_tone"].value_counts(normalize=True)
    assert tones[3] > 2 * tones[9] and tones[8:].sum() < 0.2  # not uniform: few dark tones, but some
    bands = people["age_band"].value_counts(normalize=True)
    assert bands["30-44"] > bands["18-29"] > bands["65+"] > 0.05
    assert bands["under_18"] == pytest.approx(0.05, abs=0.001)
    assert people["jurisdiction"].value_counts().index[0] == "DE"
    collected = people["collected_at"]
    assert collected.min() >= pd.Timestamp(demo.WINDOW_START) and collected.max() < pd.Timestamp(demo.WINDOW_END)
    assert np.corrcoef(people["skin_tone"], people["latent"])[0, 1] == pytest.approx(0, abs=0.03)
