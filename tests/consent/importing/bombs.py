"""Small Parquet files that decode to far more than they weigh, written without ever holding the decoded data.

Each row group stores one text value per column in its dictionary page and, for every row, the
index 0 (run-length encoded to a few bytes): a reader that decodes the column materialises the value
once per row. Every row group gets its own random value, so the file weighs roughly a dictionary page
per row group (about 250 KB for the defaults) while it decodes to rows x value bytes (about 6 GB).
"""

import secrets
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# The columns a consent import needs, with short values; the bomb sits in evidence_hash.
COLUMNS = {"event_id": "E-1", "subject": "S-1", "kind": "grant", "channel": "web_form", "collected_at": "2025-02-01"}
BOMB_COLUMN = "evidence_hash"


def dictionary_bomb(
    path: Path, *, row_groups: int = 80, rows_per_group: int = 18_750, value_bytes: int = 4_000
) -> Path:
    """A consent-events file whose evidence_hash cells are `value_bytes` long, repeated on every row."""
    schema = pa.schema([(name, pa.dictionary(pa.int32(), pa.string())) for name in [*COLUMNS, BOMB_COLUMN]])
    indices = pa.array([0] * rows_per_group, type=pa.int32())
    with pq.ParquetWriter(path, schema, compression="zstd", write_statistics=False, store_schema=False) as writer:
        for _ in range(row_groups):
            values = {**COLUMNS, BOMB_COLUMN: secrets.token_hex(value_bytes // 2)}
            arrays = [pa.DictionaryArray.from_arrays(indices, pa.array([values[name]])) for name in schema.names]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=rows_per_group)
    return path


def decoded_bytes(*, row_groups: int = 80, rows_per_group: int = 18_750, value_bytes: int = 4_000) -> int:
    """What `dictionary_bomb` with these arguments decodes to (text only)."""
    per_row = value_bytes + sum(len(value) for value in COLUMNS.values())
    return row_groups * rows_per_group * per_row


def plain_bomb(path: Path, *, rows: int = 64, value_bytes: int = 64 * 1024) -> Path:
    """The same idea without a dictionary: long runs of one byte, which zstd squeezes into almost nothing."""
    value = "a" * value_bytes
    columns = {name: [text] * rows for name, text in COLUMNS.items()}
    table = pa.table({**columns, BOMB_COLUMN: [value] * rows})
    pq.write_table(table, path, compression="zstd", use_dictionary=False)
    return path
