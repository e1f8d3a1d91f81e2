"""Reading import sources (CSV, Parquet, or a SQL query) into a frame of strings.

Every cell arrives as a string with empty meaning missing, whatever the source, so that
one set of row checks applies to all of them and reports problems the same way.
"""

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import sqlalchemy

from consent.errors import ImportFailed, ImportProblem
from consent.rules.ledger import sha256_hex

EMPTY_FILE = "the file is empty"
NO_ROWS = "the file has a header but no rows"
NOT_UTF8 = "the file is not UTF-8 text: byte 0x{byte:02x} on line {line} cannot be decoded; save it as UTF-8"
MALFORMED = "the CSV is malformed: {detail}"
UNSUPPORTED = "unsupported file type {suffix!r}; use .csv or .parquet"
DUPLICATE_COLUMNS = "column {name!r} appears more than once"


@dataclass
class Table:
    frame: pd.DataFrame
    source_name: str
    sha256: str


def _fail(message: str, row: int = 0):
    raise ImportFailed([ImportProblem(row=row, field="", message=message)])


def read_file(path: Path) -> Table:
    path = Path(path)
    data = path.read_bytes()
    if not data.strip():
        _fail(EMPTY_FILE)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(data)
    elif suffix == ".parquet":
        frame = _as_strings(pq.read_table(io.BytesIO(data)).to_pandas())
    else:
        _fail(UNSUPPORTED.format(suffix=suffix))
    if frame.empty:
        _fail(NO_ROWS)
    return Table(frame=frame, source_name=path.name, sha256=sha256_hex(data))


def read_sql(url: str, query: str) -> Table:
    try:
        engine = sqlalchemy.create_engine(url)
    except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
        _fail(f"the database URL cannot be used: {exc}")
    try:
        with engine.connect() as connection:
            frame = pd.read_sql(sqlalchemy.text(query), connection)
    except (sqlalchemy.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(f"the query failed: {reason}")
    finally:
        engine.dispose()
    if frame.empty:
        _fail("the query returned no rows")
    shown_url = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    return Table(
        frame=_as_strings(frame),
        source_name=f"{shown_url} :: {query}"[:500],
        sha256=sha256_hex(query.encode("utf-8")),
    )


def _read_csv(data: bytes) -> pd.DataFrame:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        _fail(NOT_UTF8.format(byte=data[exc.start], line=line))
    header = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    names = [name.strip() for name in next(csv.reader([header]))]
    for name in names:
        if names.count(name) > 1:
            _fail(DUPLICATE_COLUMNS.format(name=name))
    # pyarrow's reader is strict (a row with more or fewer cells than the header is an error,
    # where pandas would shift columns or fill blanks) and several times faster.
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in names}),
        )
    except pa.ArrowInvalid as exc:
        _fail(MALFORMED.format(detail=_malformed_detail(str(exc), data)))
    return table.to_pandas()


def _malformed_detail(message: str, data: bytes) -> str:
    """Arrow names the offending row's text but not its line; find the line for the data steward."""
    message = message.removeprefix("CSV parse error: ")
    expected, _, row_text = message.partition(": ")
    found = re.search(rb"(?m)^" + re.escape(row_text.encode("utf-8")) + rb"\r?$", data) if row_text else None
    if found is None:
        return message
    line = data.count(b"\n", 0, found.start()) + 1
    return f"line {line}: {expected.lower()} ({row_text[:80]})"


def _as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            text = series.map(lambda v: "" if pd.isna(v) else v.isoformat())
        else:
            text = series.map(_cell_text)
        out[str(column)] = text
    return pd.DataFrame(out)


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
