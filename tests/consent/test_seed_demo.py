import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from consent import ledger
from consent.demo import _people
from consent.models import ConsentEvent, DataItem, GuardianConsent, Subject


@pytest.fixture
def seeded(db):
    out = io.StringIO()
    call_command("seed_demo", subjects=300, images=20, seed=1, stdout=out)
    return out.getvalue()


def test_it_seeds_a_population_whose_ledger_verifies(seeded):
    assert "Seeded a synthetic population of 300 people" in seeded
    assert "Ledger: OK:" in seeded
    assert ledger.verify().ok


def test_the_population_has_the_cases_an_audit_must_handle(seeded, settings):
    assert ConsentEvent.objects.filter(kind="withdrawal").exists()
    assert ConsentEvent.objects.filter(expires_at__isnull=False).exists()
    assert GuardianConsent.objects.exists()
    assert DataItem.objects.filter(source__copyright_status="disputed").exists()
    assert DataItem.objects.filter(source__copyright_status="unknown").exists()
    images = DataItem.objects.filter(kind="image", erased_at__isnull=True)
    assert images.count() > 0
    assert all((Path(settings.MEDIA_ROOT) / item.image.name).is_file() for item in images)
    erased = Subject.objects.filter(erased_at__isnull=False)
    assert erased.exists()
    assert set(erased.values_list("reference", flat=True)) == {None}


def test_running_it_twice_fails_clearly(seeded):
    with pytest.raises(CommandError, match="demo data already present"):
        call_command("seed_demo", subjects=10, stdout=io.StringIO())


def test_the_same_seed_gives_the_same_attribute_mix(db):
    def mix():
        return sorted(
            (item.item_ref, item.attributes.get("skin_tone"), item.source.name)
            for item in DataItem.objects.select_related("source").filter(erased_at__isnull=True)
        )

    call_command("seed_demo", subjects=120, images=5, seed=9, stdout=io.StringIO())
    first = mix()
    again = _people(np.random.default_rng(9), 120, datetime.now(UTC))
    assert len(first) > 0
    tones = {f"ITEM-{ref[5:]}": str(tone) for ref, tone in zip(again["reference"], again["skin_tone"], strict=True)}
    assert all(tones[ref] == tone for ref, tone, _ in first if ref.startswith("ITEM-"))
