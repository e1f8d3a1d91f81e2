"""Atomic import of data items with their protected attributes, features and image files."""

import io
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import transaction
from PIL import Image

from consent import features
from consent.errors import ImportFailed, ImportProblem
from consent.importing.common import check_columns, chunks, column
from consent.models import DataItem, Dataset, ImportBatch, ItemKind, Subject
from consent.rules.ledger import canonical_json, sha256_hex
from core import audit_log
from core.audit_log import Actor
from core.bulk import paused_gc, rows_where_in
from core.files import removed_unless_committed

REQUIRED = {"item_ref", "subject", "source", "kind"}
OPTIONAL = {"content_hash", "image_path"}
FEATURE_PREFIX = "feature_"

ITEM_KINDS = frozenset(ItemKind.values)
EMPTY_VALUE = "{field} is empty"
UNKNOWN_SUBJECT = "no subject with reference {value!r}; import their consent first"
ERASED_SUBJECT = "subject {value!r} has been erased"
UNKNOWN_SOURCE = "dataset {dataset} has no source named {value!r}"
UNKNOWN_KIND = "unknown item kind {value!r}; use tabular or image"
DUPLICATE_ITEM = "item {value!r} already appears on row {first}"
ITEM_EXISTS = "item {value!r} already exists in dataset {dataset} with different content"
NOT_A_NUMBER = "{value!r} is not a number"
MISSING_FEATURE = "a tabular item needs a value for every feature column"
NO_FEATURES = "tabular items need feature columns (named feature_...)"
IMAGE_NEEDS_PATH = "an image item needs image_path"
IMAGE_OUTSIDE = "image_path {value!r} points outside the files directory"
IMAGE_MISSING = "no file {value!r} in the files directory"
IMAGE_UNREADABLE = "{value!r} is not an image we can decode: {reason}"
IMAGE_TOO_LARGE = "{value!r} has {pixels} pixels, above the limit of {limit}"
HASH_MISMATCH = "content_hash {given} does not match the content's SHA-256 {actual}"
NO_FILES_DIR = "image items need --files-dir, the folder their image_path values are relative to"


@dataclass
class ItemImportResult:
    batch: ImportBatch
    rows: int
    created: int
    unchanged: int


@dataclass
class _Item:
    number: int
    item_ref: str
    subject_id: int
    source_id: int
    kind: str
    content_hash: str
    attributes: dict
    features: dict | None = None
    image_file: Path | None = None
    image_suffix: str = ""


def import_items(
    *,
    actor: Actor,
    dataset: Dataset,
    frame: pd.DataFrame,
    source_name: str,
    source_sha256: str,
    files_dir: Path | None = None,
) -> ItemImportResult:
    with paused_gc():
        return _import(
            actor=actor,
            dataset=dataset,
            frame=frame,
            source_name=source_name,
            source_sha256=source_sha256,
            files_dir=files_dir,
        )


def _import(*, actor, dataset, frame, source_name, source_sha256, files_dir) -> ItemImportResult:
    schema = dataset.attribute_schema.rules()
    attribute_names = set(schema.attributes)
    check_columns(
        frame,
        required=REQUIRED,
        optional=OPTIONAL | attribute_names,
        extra_ok=lambda name: name.startswith(FEATURE_PREFIX),
    )
    feature_columns = [c for c in frame.columns if c.startswith(FEATURE_PREFIX)]
    problems: list[ImportProblem] = []
    sources = dict(dataset.sources.values_list("name", "pk"))
    subjects = _subjects(set(column(frame, "subject")))
    existing = _existing_items(dataset, set(column(frame, "item_ref")))
    attribute_values = {name: column(frame, name) for name in attribute_names}
    feature_values = {name: column(frame, name) for name in feature_columns}
    image_paths = column(frame, "image_path")
    given_hashes = [h.lower() for h in column(frame, "content_hash")]

    items: list[_Item] = []
    first_row: dict[str, int] = {}
    unchanged = 0
    limit = settings.MAX_IMAGE_PIXELS
    for index, (item_ref, subject_ref, source, kind) in enumerate(
        zip(
            column(frame, "item_ref"),
            column(frame, "subject"),
            column(frame, "source"),
            column(frame, "kind"),
            strict=True,
        )  # fmt: skip
    ):
        number = index + 1
        before = len(problems)

        def problem(field, message, number=number):
            problems.append(ImportProblem(number, field, message))

        for field, value in (("item_ref", item_ref), ("subject", subject_ref), ("source", source), ("kind", kind)):
            if not value:
                problem(field, EMPTY_VALUE.format(field=field))
        if item_ref in first_row:
            problem("item_ref", DUPLICATE_ITEM.format(value=item_ref, first=first_row[item_ref]))
        elif item_ref:
            first_row[item_ref] = number
        subject = subjects.get(subject_ref)
        if subject_ref and subject is None:
            problem("subject", UNKNOWN_SUBJECT.format(value=subject_ref))
        elif subject is not None and subject[1]:
            problem("subject", ERASED_SUBJECT.format(value=subject_ref))
        if source and source not in sources:
            problem("source", UNKNOWN_SOURCE.format(dataset=dataset, value=source))
        if kind and kind not in ITEM_KINDS:
            problem("kind", UNKNOWN_KIND.format(value=kind))
        cleaned, attribute_problems = schema.validate(
            {name: values[index] for name, values in attribute_values.items()}
        )
        for field, message in attribute_problems:
            problem(field, message)

        item_features, image_file, suffix, actual_hash = None, None, "", ""
        if kind == ItemKind.TABULAR:
            item_features = _features(feature_values, index, problem)
            if item_features is not None:
                actual_hash = sha256_hex(canonical_json(item_features))
        elif kind == ItemKind.IMAGE:
            image_file, actual_hash = _image(image_paths[index], files_dir, limit, problem)
            suffix = image_file.suffix.lower() if image_file else ""
        if given_hashes[index] and actual_hash and given_hashes[index] != actual_hash:
            problem("content_hash", HASH_MISMATCH.format(given=given_hashes[index], actual=actual_hash))
        if len(problems) > before:
            continue
        known = existing.get(item_ref)
        if known is not None:
            if known == (subject[0], sources[source], kind, actual_hash, cleaned):
                unchanged += 1
            else:
                problem("item_ref", ITEM_EXISTS.format(value=item_ref, dataset=dataset))
            continue
        items.append(
            _Item(
                number=number,
                item_ref=item_ref,
                subject_id=subject[0],
                source_id=sources[source],
                kind=kind,
                content_hash=actual_hash,
                attributes=cleaned,
                features=item_features,
                image_file=image_file,
                image_suffix=suffix,
            )  # fmt: skip
        )
    if any(item.kind == ItemKind.TABULAR for item in items) and not feature_columns:
        problems.append(ImportProblem(0, "", NO_FEATURES))
    if problems:
        raise ImportFailed(problems)
    return _write(actor, dataset, items, len(frame), unchanged, feature_columns, source_name, source_sha256)


def _write(actor, dataset, items, rows, unchanged, feature_columns, source_name, source_sha256) -> ItemImportResult:
    media_root = Path(settings.MEDIA_ROOT)
    with removed_unless_committed() as written, transaction.atomic():
        batch = ImportBatch.objects.create(
            kind=ImportBatch.Kind.ITEMS, source_name=source_name, source_sha256=source_sha256, rows=rows,
            created=len(items), unchanged=unchanged, actor_label=actor.label,
        )  # fmt: skip
        objects = []
        for item in items:
            image_name = ""
            if item.image_file is not None:
                image_name = f"items/{item.content_hash[:2]}/{item.content_hash}{item.image_suffix}"
                target = media_root / image_name
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(item.image_file, target)
                    written.append(target)
            objects.append(
                DataItem(
                    dataset=dataset,
                    item_ref=item.item_ref,
                    subject_id=item.subject_id,
                    source_id=item.source_id,
                    kind=item.kind,
                    content_hash=item.content_hash,
                    attributes=item.attributes,
                    image=image_name,
                    import_batch=batch,
                )  # fmt: skip
            )
        DataItem.objects.bulk_create(objects, batch_size=5_000)
        tabular = [
            (obj.pk, item.features) for obj, item in zip(objects, items, strict=True) if item.features is not None
        ]
        if tabular:
            frame = pd.DataFrame([values for _, values in tabular], columns=feature_columns)
            frame.insert(0, features.ITEM_ID, [pk for pk, _ in tabular])
            feature_file = features.write_features(dataset, frame, written=written)
            DataItem.objects.filter(import_batch=batch, kind=ItemKind.TABULAR).update(feature_file=feature_file)
        audit_log.record(
            actor=actor, action="items.import", object_type="import_batch", object_id=batch.pk,
            after={**batch.audit_view(), "dataset": str(dataset)},
        )  # fmt: skip
    return ItemImportResult(batch=batch, rows=rows, created=len(items), unchanged=unchanged)


def _subjects(references: set[str]) -> dict[str, tuple[int, bool]]:
    rows = rows_where_in(Subject, ["pk", "reference", "erased_at"], "reference", references - {""})
    return {reference: (pk, erased_at is not None) for pk, reference, erased_at in rows}


def _existing_items(dataset: Dataset, refs: set[str]) -> dict[str, tuple]:
    found = {}
    for batch in chunks(refs - {""}):
        for ref, subject_id, source_id, kind, content_hash, attributes in dataset.items.filter(
            item_ref__in=batch
        ).values_list("item_ref", "subject_id", "source_id", "kind", "content_hash", "attributes"):
            found[ref] = (subject_id, source_id, kind, content_hash, attributes)
    return found


def _features(feature_values: dict[str, list[str]], index: int, problem) -> dict | None:
    values = {}
    for name, column_values in feature_values.items():
        text = column_values[index]
        if text == "":
            problem(name, MISSING_FEATURE)
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problem(name, NOT_A_NUMBER.format(value=text))
            return None
        values[name] = value
    return values


def _image(relative: str, files_dir: Path | None, limit: int, problem) -> tuple[Path | None, str]:
    if not relative:
        problem("image_path", IMAGE_NEEDS_PATH)
        return None, ""
    if files_dir is None:
        problem("image_path", NO_FILES_DIR)
        return None, ""
    root = Path(files_dir).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        problem("image_path", IMAGE_OUTSIDE.format(value=relative))
        return None, ""
    if not path.is_file():
        problem("image_path", IMAGE_MISSING.format(value=relative))
        return None, ""
    data = path.read_bytes()
    reason = check_image(data, limit)
    if reason is not None:
        problem("image_path", reason.format(value=relative))
        return None, ""
    return path, sha256_hex(data)


def check_image(data: bytes, limit: int) -> str | None:
    """None if the bytes decode as an image within the pixel limit, else a message with {value}."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size  # read from the header, before any pixel is decoded
            if width * height > limit:
                return IMAGE_TOO_LARGE.format(value="{value}", pixels=width * height, limit=limit)
            image.load()
    except Image.DecompressionBombError as exc:
        return IMAGE_UNREADABLE.format(value="{value}", reason=exc)
    except Exception as exc:  # Pillow raises many types for corrupt input; the message is what matters
        return IMAGE_UNREADABLE.format(value="{value}", reason=exc)
    return None
