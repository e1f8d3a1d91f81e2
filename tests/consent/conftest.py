"""Fixtures shared by the consent tests.

The basic fixtures (`actor`, `notice`, `make_subject`, `subject`, `dataset` and the autouse
`file_roots` that points MEDIA_ROOT and ARTIFACT_ROOT at tmp_path) live in tests/conftest.py;
these build on them.
"""

import pandas as pd
import pytest
from PIL import Image

from consent import services
from consent.importing.items import import_items
from core.models import AuditLogEntry
from tests.conftest import at


@pytest.fixture
def grant(actor, notice):
    """Record a grant through the service; evaluation by web form on 2025-03-01 unless told otherwise."""

    def record(subject, **overrides):
        values = dict(purposes=["evaluation"], notice=notice, channel="web_form", collected_at=at(2025, 3))
        return services.grant_consent(actor=actor, subject=subject, **{**values, **overrides})

    return record


@pytest.fixture
def withdraw(actor):
    def record(subject, **overrides):
        values = dict(channel="email", collected_at=at(2025, 6))
        return services.withdraw_consent(actor=actor, subject=subject, **{**values, **overrides})

    return record


@pytest.fixture
def erase(actor):
    def record(subject, **overrides):
        values = dict(channel="email", collected_at=at(2025, 9))
        return services.erase_subject(actor=actor, subject=subject, **{**values, **overrides})

    return record


@pytest.fixture
def new_audit_entries(db):
    """Call it once to mark a point; the returned function lists the entries written since, oldest first."""

    def mark():
        last = AuditLogEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        return lambda: list(AuditLogEntry.objects.filter(id__gt=last).order_by("id"))

    return mark


@pytest.fixture
def images(tmp_path):
    """A files directory for image imports: two distinct small PNGs."""
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (24, 24), (140, 90, 70)).save(folder / "a.png")
    Image.new("RGB", (24, 24), (60, 40, 30)).save(folder / "b.png")
    return folder


def item_row(subject_reference, **values):
    """One row of an item import: a tabular item with two features unless told otherwise."""
    base = {"item_ref": "t1", "subject": subject_reference, "source": "studio", "kind": "tabular",
            "skin_tone": "4", "sex": "male", "feature_x": "0.5", "feature_y": "1", "image_path": ""}  # fmt: skip
    return {**base, **values}


def image_row(subject_reference, item_ref, image_path, **values):
    return item_row(subject_reference, item_ref=item_ref, kind="image", feature_x="", feature_y="",
                    image_path=image_path, **values)  # fmt: skip


@pytest.fixture
def import_item_rows(actor, dataset, images):
    """Import rows of items into the `dataset` fixture, images taken from the `images` folder."""

    def run(rows):
        return import_items(
            actor=actor, dataset=dataset, frame=pd.DataFrame(rows), source_name="items.csv", source_sha256="",
            files_dir=images,
        )  # fmt: skip

    return run
