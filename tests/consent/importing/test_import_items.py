import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from consent.errors import ImportFailed
from consent.features import absolute_path
from consent.importing.items import import_items
from consent.models import DataItem, FeatureFile, ImportBatch
from consent.rules.ledger import canonical_json
from core.models import AuditLogEntry


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (24, 24), (140, 90, 70)).save(folder / "a.png")
    Image.new("RGB", (24, 24), (60, 40, 30)).save(folder / "b.png")
    return folder


def row(**values):
    base = {"item_ref": "t1", "subject": "SUBJ-ADULT", "source": "studio", "kind": "tabular", "skin_tone": "4",
            "sex": "male", "feature_x": "0.5", "feature_y": "1", "image_path": ""}  # fmt: skip
    return {**base, **values}


def run(actor, dataset, rows, images=None):
    return import_items(
        actor=actor, dataset=dataset, frame=pd.DataFrame(rows), source_name="items.csv", source_sha256="",
        files_dir=images,
    )  # fmt: skip


def test_it_imports_tabular_and_image_items(actor, dataset, subject, images, settings):
    result = run(
        actor, dataset,
        [row(), row(item_ref="i1", kind="image", feature_x="", feature_y="", image_path="a.png", skin_tone="9")],
        images,
    )  # fmt: skip
    assert (result.created, result.unchanged) == (2, 0)
    tabular = DataItem.objects.get(item_ref="t1")
    assert tabular.attributes == {"skin_tone": "4", "sex": "male"}
    assert tabular.content_hash == hashlib.sha256(canonical_json({"feature_x": 0.5, "feature_y": 1.0})).hexdigest()
    table = pq.read_table(absolute_path(tabular.feature_file))
    assert table.column("item_id").to_pylist() == [tabular.pk]
    assert table.column("feature_x").to_pylist() == [0.5]
    image = DataItem.objects.get(item_ref="i1")
    assert image.content_hash == hashlib.sha256((images / "a.png").read_bytes()).hexdigest()
    assert (Path(settings.MEDIA_ROOT) / image.image.name).read_bytes() == (images / "a.png").read_bytes()
    assert AuditLogEntry.objects.filter(action="items.import").count() == 1


def test_reimporting_the_same_items_creates_nothing(actor, dataset, subject):
    run(actor, dataset, [row()])
    again = run(actor, dataset, [row()])
    assert (again.created, again.unchanged) == (0, 1)
    assert DataItem.objects.count() == 1


def assert_nothing_written(settings):
    assert not DataItem.objects.exists()
    assert not FeatureFile.objects.exists()
    assert not ImportBatch.objects.exists()
    for root in (settings.MEDIA_ROOT, settings.ARTIFACT_ROOT):
        assert not [p for p in Path(root).rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (row(skin_tone="11"), "row 2, skin_tone: '11' is not a value of 'skin_tone'"),
        (row(sex=""), "row 2, sex: attribute 'sex' is missing"),
        (row(subject="NOBODY"), "row 2, subject: no subject with reference 'NOBODY'"),
        (row(source="elsewhere"), "row 2, source: dataset faces v2026.1 has no source named 'elsewhere'"),
        (row(feature_x="lots"), "row 2, feature_x: 'lots' is not a number"),
        (row(kind="video"), "row 2, kind: unknown item kind 'video'"),
        (row(item_ref="i0"), "row 2, item_ref: item 'i0' already appears on row 1"),
        (row(kind="image", image_path="../../etc/passwd"), "row 2, image_path: image_path '../../etc/passwd' points outside"),
        (row(kind="image", image_path="missing.png"), "row 2, image_path: no file 'missing.png'"),
        (row(content_hash="0" * 64), "row 2, content_hash: content_hash 0000"),
    ],
)  # fmt: skip
def test_one_bad_row_writes_nothing_and_is_named(actor, dataset, subject, images, settings, bad, expected):
    good = row(item_ref="i0", kind="image", feature_x="", feature_y="", image_path="b.png")
    with pytest.raises(ImportFailed) as failed:
        run(actor, dataset, [good, bad], images)
    problems = [str(p) for p in failed.value.problems]
    assert any(p.startswith(expected) for p in problems), problems
    assert_nothing_written(settings)


def test_it_refuses_an_image_over_the_pixel_limit(actor, dataset, subject, images, settings):
    settings.MAX_IMAGE_PIXELS = 100
    with pytest.raises(ImportFailed) as failed:
        run(actor, dataset, [row(kind="image", feature_x="", feature_y="", image_path="a.png")], images)
    assert str(failed.value.problems[0]) == "row 1, image_path: 'a.png' has 576 pixels, above the limit of 100"
    assert_nothing_written(settings)


def test_it_refuses_a_file_that_is_not_an_image(actor, dataset, subject, images, settings):
    (images / "fake.png").write_bytes(b"not an image at all")
    with pytest.raises(ImportFailed) as failed:
        run(actor, dataset, [row(kind="image", feature_x="", feature_y="", image_path="fake.png")], images)
    assert "is not an image we can decode" in str(failed.value.problems[0])


def test_it_refuses_columns_outside_the_schema(actor, dataset, subject):
    with pytest.raises(ImportFailed) as failed:
        run(actor, dataset, [{**row(), "religion": "none"}])
    assert str(failed.value.problems[0]).startswith("file: unknown column(s) religion")


def test_the_command_imports_a_csv(actor, dataset, subject, tmp_path, capsys):
    path = tmp_path / "items.csv"
    pd.DataFrame([row()]).to_csv(path, index=False)
    call_command("import_items", str(path), dataset="faces:2026.1")
    assert "Imported 1 items into faces v2026.1 from 1 rows" in capsys.readouterr().out


def test_the_command_names_an_unknown_dataset(tmp_path, db):
    path = tmp_path / "items.csv"
    pd.DataFrame([row()]).to_csv(path, index=False)
    with pytest.raises(CommandError, match="no dataset 'nope'"):
        call_command("import_items", str(path), dataset="nope")
