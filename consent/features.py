"""Tabular features, stored as Parquet files keyed by item id rather than as database columns."""

import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from consent.models import Dataset, FeatureFile
from consent.rules.ledger import sha256_hex
from core.files import delete_on_commit

ITEM_ID = "item_id"


def absolute_path(feature_file: FeatureFile) -> Path:
    return Path(settings.ARTIFACT_ROOT) / feature_file.path


def _write_table(dataset: Dataset, table: pa.Table, written: list[Path]) -> tuple[str, str]:
    relative = f"features/dataset-{dataset.pk}/{uuid.uuid4().hex}.parquet"
    path = Path(settings.ARTIFACT_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    written.append(path)
    return relative, sha256_hex(path.read_bytes())


def write_features(dataset: Dataset, frame: pd.DataFrame, *, written: list[Path]) -> FeatureFile:
    """Store a frame whose `item_id` column holds DataItem primary keys; `written` collects the new file."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    relative, digest = _write_table(dataset, table, written)
    return FeatureFile.objects.create(
        dataset=dataset,
        path=relative,
        sha256=digest,
        row_count=table.num_rows,
        columns=[c for c in frame.columns if c != ITEM_ID],
    )


def remove_items(feature_file: FeatureFile, item_ids: set[int], *, written: list[Path]) -> None:
    """Rewrite a feature file without some items' rows (erasure); the old file goes on commit."""
    old_path = absolute_path(feature_file)
    table = pq.read_table(old_path)
    keep = pc.invert(pc.is_in(table[ITEM_ID], value_set=pa.array(sorted(item_ids), type=table[ITEM_ID].type)))
    remaining = table.filter(keep)
    relative, digest = _write_table(feature_file.dataset, remaining, written)
    feature_file.path = relative
    feature_file.sha256 = digest
    feature_file.row_count = remaining.num_rows
    feature_file.save(update_fields=["path", "sha256", "row_count"])
    delete_on_commit(old_path)
