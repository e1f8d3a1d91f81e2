import hashlib
import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from consent.errors import ImportFailed, ImportProblem
from consent.features import absolute_path
from consent.importing import common
from consent.importing import items as importer
from consent.models import DataItem, FeatureFile, ImportBatch
from consent.rules.ledger import canonical_json
from core import audit_log
from core.models import AuditLogEntry
from tests.consent.conftest import image_row, item_row

ALLOWED_SKIN_TONES = ", ".join(str(v) for v in range(1, 11))


def row(**values):
    return item_row("SUBJ-ADULT", **values)


def image(item_ref="i1", path="a.png", **values):
    return image_row("SUBJ-ADULT", item_ref, path, **values)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_files(settings) -> list[Path]:
    return sorted(
        p for root in (settings.MEDIA_ROOT, settings.ARTIFACT_ROOT) for p in Path(root).rglob("*") if p.is_file()
    )


def written_counts(settings):
    return (
        DataItem.objects.count(),
        FeatureFile.objects.count(),
        ImportBatch.objects.count(),
        AuditLogEntry.objects.count(),
        stored_files(settings),
    )


def problems_from_service(import_item_rows, rows):
    with pytest.raises(ImportFailed) as failed:
        import_item_rows(rows)
    return [str(p) for p in failed.value.problems]


def problems_from_command(rows, images, tmp_path):
    path = tmp_path / "items.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command(
            "import_items", str(path), dataset="faces:2026.1", files_dir=str(images), stdout=io.StringIO(), stderr=err
        )
    problems = err.getvalue().splitlines()
    assert str(failed.value) == f"{len(problems)} problem(s) found; nothing was imported"
    return problems


@pytest.fixture(params=["service", "command"])
def problems_of(request, subject, import_item_rows, images, tmp_path, settings):
    """Import rows that must fail, through the service or the command; check that nothing was written."""

    def run(rows):
        before = written_counts(settings)
        if request.param == "service":
            problems = problems_from_service(import_item_rows, rows)
        else:
            problems = problems_from_command(rows, images, tmp_path)
        assert written_counts(settings) == before, "a failed import wrote something"
        return problems

    return run


# Good input ----------------------------------------------------------------------------------


def test_it_imports_tabular_and_image_items(subject, import_item_rows, images, settings):
    result = import_item_rows([row(), image(skin_tone="9")])
    assert (result.rows, result.created, result.unchanged) == (2, 2, 0)
    tabular = DataItem.objects.get(item_ref="t1")
    assert (tabular.subject, tabular.source.name, tabular.kind) == (subject, "studio", "tabular")
    assert tabular.attributes == {"skin_tone": "4", "sex": "male"}
    assert tabular.content_hash == hashlib.sha256(canonical_json({"feature_x": 0.5, "feature_y": 1.0})).hexdigest()
    table = pq.read_table(absolute_path(tabular.feature_file))
    assert table.column("item_id").to_pylist() == [tabular.pk]
    assert (table.column("feature_x").to_pylist(), table.column("feature_y").to_pylist()) == ([0.5], [1.0])
    assert tabular.feature_file.sha256 == sha256(absolute_path(tabular.feature_file))
    assert (tabular.feature_file.row_count, tabular.feature_file.columns) == (1, ["feature_x", "feature_y"])
    picture = DataItem.objects.get(item_ref="i1")
    assert picture.content_hash == sha256(images / "a.png")
    assert picture.image.name == f"items/{picture.content_hash[:2]}/{picture.content_hash}.png"
    assert (Path(settings.MEDIA_ROOT) / picture.image.name).read_bytes() == (images / "a.png").read_bytes()
    assert picture.feature_file is None
    assert {i.import_batch_id for i in DataItem.objects.all()} == {result.batch.pk}


def test_it_records_the_batch_and_one_audit_entry(import_item_rows, subject):
    result = import_item_rows([row()])
    [entry] = AuditLogEntry.objects.filter(action="items.import")
    assert entry.object_id == str(result.batch.pk)
    assert entry.after["created"] == 1 and entry.after["dataset"] == "faces v2026.1"
    assert "SUBJ-ADULT" not in str(entry.after) and "male" not in str(entry.after)


def test_it_accepts_a_matching_content_hash_in_any_case(import_item_rows, subject, images):
    result = import_item_rows([image(content_hash=sha256(images / "a.png").upper())])
    assert result.created == 1


def test_identical_images_are_stored_once(import_item_rows, make_subject, subject, settings):
    make_subject("OTHER")
    import_item_rows([image("i1"), image_row("OTHER", "i2", "a.png")])
    assert len(stored_files(settings)) == 1
    assert DataItem.objects.get(item_ref="i1").image.name == DataItem.objects.get(item_ref="i2").image.name


def test_reimporting_the_same_items_creates_nothing(import_item_rows, subject, settings):
    import_item_rows([row(), image()])
    files = stored_files(settings)
    again = import_item_rows([row(), image()])
    assert (again.created, again.unchanged) == (0, 2)
    assert DataItem.objects.count() == 2
    assert stored_files(settings) == files


def test_the_command_imports_a_csv_with_images(dataset, subject, images, tmp_path):
    path = tmp_path / "items.csv"
    pd.DataFrame([row(), image()]).to_csv(path, index=False)
    out = io.StringIO()
    call_command("import_items", str(path), dataset="faces:2026.1", files_dir=str(images), stdout=out)
    batch = ImportBatch.objects.get()
    assert out.getvalue() == f"Imported 2 items into faces v2026.1 from 2 rows (0 already present); batch {batch.pk}\n"


def test_the_command_imports_parquet(dataset, subject, tmp_path):
    path = tmp_path / "items.parquet"
    frame = pd.DataFrame([row(), row(item_ref="t2", skin_tone="10")]).drop(columns=["image_path"])
    frame["skin_tone"] = frame["skin_tone"].astype(int)
    frame["feature_x"] = frame["feature_x"].astype(float)
    frame.to_parquet(path)
    call_command("import_items", str(path), dataset="faces", stdout=io.StringIO())
    assert DataItem.objects.get(item_ref="t2").attributes == {"skin_tone": "10", "sex": "male"}


def test_the_command_names_an_unknown_dataset(db, tmp_path):
    path = tmp_path / "items.csv"
    pd.DataFrame([row()]).to_csv(path, index=False)
    with pytest.raises(CommandError, match="--dataset: no dataset 'nope'"):
        call_command("import_items", str(path), dataset="nope")


# Bad input: nothing is written and every problem names its row and field -----------------------


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        (row(skin_tone="11"), "skin_tone", f"'11' is not a value of 'skin_tone' (allowed: {ALLOWED_SKIN_TONES})"),
        (row(sex="other"), "sex", "'other' is not a value of 'sex' (allowed: female, male)"),
        (row(sex=""), "sex", "attribute 'sex' is missing"),
        (row(subject="NOBODY"), "subject", importer.UNKNOWN_SUBJECT.format(value="NOBODY")),
        (row(source="elsewhere"), "source", importer.UNKNOWN_SOURCE.format(dataset="faces v2026.1", value="elsewhere")),
        (row(feature_x="lots"), "feature_x", importer.NOT_A_NUMBER.format(value="lots")),
        (row(feature_y=""), "feature_y", importer.MISSING_FEATURE),
        (row(kind="video"), "kind", importer.UNKNOWN_KIND.format(value="video")),
        (row(item_ref=""), "item_ref", importer.EMPTY_VALUE.format(field="item_ref")),
        (row(item_ref="i0"), "item_ref", importer.DUPLICATE_ITEM.format(value="i0", first=1)),
        (image(path="../outside.png"), "image_path", importer.IMAGE_OUTSIDE.format(value="../outside.png")),
        (image(path="/etc/passwd"), "image_path", importer.IMAGE_OUTSIDE.format(value="/etc/passwd")),
        (image(path="missing.png"), "image_path", importer.IMAGE_MISSING.format(value="missing.png")),
        (image(path=""), "image_path", importer.IMAGE_NEEDS_PATH),
        (row(content_hash="0" * 64), "content_hash", importer.HASH_MISMATCH.format(
            given="0" * 64, actual=hashlib.sha256(canonical_json({"feature_x": 0.5, "feature_y": 1.0})).hexdigest())),
    ],
)  # fmt: skip
def test_one_bad_row_writes_nothing_and_is_named(problems_of, tmp_path, bad, field, message):
    (tmp_path / "outside.png").write_bytes((tmp_path / "images" / "a.png").read_bytes())
    good = image("i0", "b.png")  # a good image first: a partial import would leave its file behind
    assert problems_of([good, bad]) == [str(ImportProblem(2, field, message))]


def test_an_image_content_hash_mismatch_is_named(problems_of, images):
    problems = problems_of([image(content_hash="f" * 64)])
    assert problems == [
        str(
            ImportProblem(
                1, "content_hash", importer.HASH_MISMATCH.format(given="f" * 64, actual=sha256(images / "a.png"))
            )
        )
    ]


def test_an_image_over_the_pixel_limit_is_refused_before_it_is_decoded(problems_of, settings):
    settings.MAX_IMAGE_PIXELS = 100
    assert problems_of([image()]) == [
        "row 1, image_path: " + importer.IMAGE_TOO_LARGE.format(value="a.png", pixels=576, limit=100)
    ]


def test_a_file_that_is_not_an_image_is_refused(problems_of, images):
    (images / "fake.png").write_bytes(b"not an image at all")
    [problem] = problems_of([image(path="fake.png")])
    assert problem.startswith("row 1, image_path: 'fake.png' is not an image we can decode: ")


def test_a_link_out_of_the_files_directory_is_refused(problems_of, images, tmp_path):
    secret = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(secret)
    (images / "link.png").symlink_to(secret)
    assert problems_of([image(path="link.png")]) == [
        "row 1, image_path: " + importer.IMAGE_OUTSIDE.format(value="link.png")
    ]


def test_columns_outside_the_schema_are_refused(problems_of):
    expected = ", ".join(sorted(importer.REQUIRED | importer.OPTIONAL | {"skin_tone", "sex"}))
    assert problems_of([{**row(), "religion": "none"}]) == [
        "file: " + common.UNKNOWN_COLUMNS.format(names="religion", expected=expected)
    ]


def test_tabular_items_need_feature_columns(problems_of):
    bare = {k: v for k, v in row().items() if not k.startswith("feature_")}
    assert problems_of([bare]) == ["file: " + importer.NO_FEATURES]


def test_an_item_already_imported_with_other_content_is_refused(problems_of, import_item_rows, subject):
    import_item_rows([row()])
    assert problems_of([row(skin_tone="5")]) == [
        "row 1, item_ref: " + importer.ITEM_EXISTS.format(value="t1", dataset="faces v2026.1")
    ]


def test_items_of_an_erased_subject_are_refused(problems_of, subject, erase):
    erase(subject)
    assert problems_of([row()]) == ["row 1, subject: " + importer.UNKNOWN_SUBJECT.format(value="SUBJ-ADULT")]


def test_every_problem_is_reported_with_its_row(problems_of):
    problems = problems_of(
        [row(), row(item_ref="t2", skin_tone="0"), row(item_ref="t3", source="x"), image("i4", "no.png")]
    )
    assert [p.split(":")[0] for p in problems] == ["row 2, skin_tone", "row 3, source", "row 4, image_path"]


def test_image_items_need_a_files_directory(actor, dataset, subject):
    with pytest.raises(ImportFailed) as failed:
        importer.import_items(
            actor=actor, dataset=dataset, frame=pd.DataFrame([image()]), source_name="x", source_sha256=""
        )
    assert [str(p) for p in failed.value.problems] == ["row 1, image_path: " + importer.NO_FILES_DIR]


def test_a_feature_that_is_not_a_finite_number_is_refused(import_item_rows, subject):
    with pytest.raises(ImportFailed) as failed:
        import_item_rows([row(feature_x="nan"), row(item_ref="t2", feature_x="inf")])
    assert [str(p) for p in failed.value.problems] == [
        "row 1, feature_x: " + importer.NOT_A_NUMBER.format(value="nan"),
        "row 2, feature_x: " + importer.NOT_A_NUMBER.format(value="inf"),
    ]


def test_a_failure_while_writing_leaves_no_file_behind(import_item_rows, subject, settings, monkeypatch):
    real_record = audit_log.record

    def record_then_fail(**kwargs):
        real_record(**kwargs)
        raise RuntimeError("the audit store went away")

    monkeypatch.setattr(audit_log, "record", record_then_fail)
    with pytest.raises(RuntimeError):
        import_item_rows([row(), image()])
    assert stored_files(settings) == []
    assert not DataItem.objects.exists() and not FeatureFile.objects.exists() and not ImportBatch.objects.exists()
