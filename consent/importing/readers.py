"""Reading import sources (CSV, Parquet, or a SQL query) into a frame of strings.

Every cell arrives as a string with empty meaning missing, whatever the source, so that
one set of row checks applies to all of them and reports problems the same way.

A source is decoded in record batches, and each batch is measured before it is kept: a source
with more rows than IMPORT_MAX_ROWS, a cell longer than IMPORT_MAX_CELL_BYTES, or more decoded
data than IMPORT_MAX_DECODED_BYTES is refused where it passes the limit, so a small file that
decodes to gigabytes (a compressed Parquet "bomb") never grows the process. Parquet text columns
are read as dictionaries, and measured in that form, so a value repeated a million times is
counted a million times without being copied once.

A SQL source runs one SELECT, in a read-only transaction, on a connection that cannot write.
"""

import codecs
import csv
import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import sqlalchemy
import sqlparse
from django.conf import settings

from consent.errors import ImportFailed, ImportProblem
from consent.rules.ledger import sha256_hex
from core.uploads import size_label

EMPTY_FILE = "the file is empty"
NO_ROWS = "the file has a header but no rows"
NOT_UTF8 = "the file is not UTF-8 text: byte 0x{byte:02x} on line {line} cannot be decoded; save it as UTF-8"
MALFORMED = "the CSV is malformed: {detail}"
UNSUPPORTED = "unsupported file type {suffix!r}; use .csv or .parquet"
DUPLICATE_COLUMNS = "column {name!r} appears more than once"
NOT_PARQUET = "the file cannot be read as Parquet: {reason}"
NESTED_COLUMN = "column {name!r} holds {type} values; give one plain value per cell"
HEADER_TOO_LONG = "the header line is longer than {limit}; is this a CSV file?"
TOO_MANY_ROWS = "more than {limit:,} rows; one import takes at most {limit:,}, so split the source"
CELL_TOO_LARGE = "the cell holds {size:,} bytes; a cell may hold at most {limit:,}"
ROW_TOO_LONG = "the row is longer than {limit}; a cell may hold at most {cell:,} bytes"
TOO_MUCH_DATA = (
    "the data decodes to more than {limit} by this row, the most one import takes; nothing was imported. "
    "Split the source"
)
DECLARED_TOO_LARGE = (
    "the file's pages decompress to {size}, more than the {limit} one import takes; nothing was imported. "
    "Split the source"
)
ONE_STATEMENT = "the query must be a single SELECT statement; it has {count}"
NOT_A_SELECT = "the query must be a single SELECT statement; this one is {kind}"
NO_READ_ONLY = (
    "a {dialect} database cannot be opened read-only here; imports read from SQLite, PostgreSQL or MySQL/MariaDB"
)
NO_QUERY_ROWS = "the query returned no rows"

BATCH_ROWS = 16_384
CELL_OVERHEAD = 8  # bytes counted per cell besides its text: an offset, or a fixed-width value
CHUNK_BYTES = 1 << 20
HEADER_LIMIT = 1 << 20


@dataclass
class Table:
    frame: pd.DataFrame
    source_name: str
    sha256: str


@dataclass(frozen=True)
class Limits:
    """How much of a source one import decodes: rows, bytes in one cell, bytes in all (text plus 8 per cell)."""

    rows: int
    cell_bytes: int
    decoded_bytes: int

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            rows=settings.IMPORT_MAX_ROWS,
            cell_bytes=settings.IMPORT_MAX_CELL_BYTES,
            decoded_bytes=settings.IMPORT_MAX_DECODED_BYTES,
        )


def _fail(message: str, row: int = 0, field: str = ""):
    raise ImportFailed([ImportProblem(row=row, field=field, message=message)])


def read_file(path: Path, *, limits: Limits | None = None) -> Table:
    path = Path(path)
    limits = limits or Limits.from_settings()
    digest, blank = _digest(path)
    if blank:
        _fail(EMPTY_FILE)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path, limits)
    elif suffix == ".parquet":
        frame = _read_parquet(path, limits)
    else:
        _fail(UNSUPPORTED.format(suffix=suffix))
    if frame.empty:
        _fail(NO_ROWS)
    return Table(frame=frame, source_name=path.name, sha256=digest)


def read_upload(upload, *, limits: Limits | None = None) -> Table:
    """An uploaded CSV or Parquet file (a Django UploadedFile) as a table; raises ImportFailed."""
    suffix = Path(upload.name).suffix.lower()
    if not (suffix[1:].isascii() and suffix[1:].isalnum()):
        suffix = ""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        table = read_file(path, limits=limits)
    table.source_name = Path(upload.name).name[:500]
    return table


def _digest(path: Path) -> tuple[str, bool]:
    """SHA-256 of the file, read in chunks, and whether it holds nothing but white space."""
    sha, blank = hashlib.sha256(), True
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            sha.update(chunk)
            blank = blank and not chunk.strip()
    return sha.hexdigest(), blank


# Measuring batches ---------------------------------------------------------------------------------


class _Budget:
    """Counts rows and decoded bytes across batches; refuses the batch that passes a limit, before decoding it."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.rows = 0
        self.decoded = 0

    def take(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch with dictionary columns decoded to plain values, once it is within every limit."""
        limits = self.limits
        if self.rows + batch.num_rows > limits.rows:
            _fail(TOO_MANY_ROWS.format(limit=limits.rows), row=limits.rows + 1)
        row_sizes = np.full(batch.num_rows, batch.num_columns * CELL_OVERHEAD, dtype=np.int64)
        problems = []
        for name, array in zip(batch.schema.names, batch.columns, strict=True):
            lengths = _text_lengths(array)
            if lengths is None:
                continue
            lengths = pc.fill_null(lengths, 0).to_numpy(zero_copy_only=False)
            for index in np.flatnonzero(lengths > limits.cell_bytes).tolist():
                message = CELL_TOO_LARGE.format(size=int(lengths[index]), limit=limits.cell_bytes)
                problems.append(ImportProblem(self.rows + index + 1, name, message))
            row_sizes += lengths
        if problems:
            raise ImportFailed(problems)
        running = self.decoded + np.cumsum(row_sizes)
        if len(running) and running[-1] > limits.decoded_bytes:
            row = self.rows + int(np.argmax(running > limits.decoded_bytes)) + 1
            _fail(TOO_MUCH_DATA.format(limit=size_label(limits.decoded_bytes)), row=row)
        self.rows += batch.num_rows
        self.decoded = int(running[-1]) if len(running) else self.decoded
        return _decoded(batch)


def _text_lengths(array: pa.Array) -> pa.Array | None:
    """Bytes in each text cell (from the dictionary, without decoding it); None for fixed-width values."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        if not _is_text(kind.value_type):
            return None
        return pc.take(pc.binary_length(array.dictionary), array.indices)
    return pc.binary_length(array) if _is_text(kind) else None


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind) or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
    )  # fmt: skip


def _decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [array.dictionary_decode() if pa.types.is_dictionary(array.type) else array for array in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _collect(batches: Iterable[pa.RecordBatch], limits: Limits) -> pa.Table | None:
    budget = _Budget(limits)
    kept = [budget.take(batch) for batch in batches if batch.num_rows]
    return pa.Table.from_batches(kept) if kept else None


def _flat(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return not pa.types.is_nested(kind)


# Parquet -------------------------------------------------------------------------------------------


def _read_parquet(path: Path, limits: Limits) -> pd.DataFrame:
    try:
        with closing(pq.ParquetFile(path)) as probe:
            schema, metadata = probe.schema_arrow, probe.metadata
        for field in schema:
            if not _flat(field.type):
                _fail(NESTED_COLUMN.format(name=field.name, type=field.type))
        _check_declared_size(metadata, limits)
        text_columns = [field.name for field in schema if _is_text(field.type)]
        with closing(pq.ParquetFile(path, metadata=metadata, read_dictionary=text_columns)) as parquet:
            # One thread: decoding row groups in parallel would hold several of them at once.
            table = _collect(parquet.iter_batches(batch_size=BATCH_ROWS, use_threads=False), limits)
        if table is None:
            return pd.DataFrame(columns=schema.names)
        if schema.metadata:  # pandas' own notes (index columns) apply to the decoded table as to the file
            table = table.replace_schema_metadata(schema.metadata)
        frame = table.to_pandas()
    except (pa.ArrowException, OSError) as exc:
        _fail(NOT_PARQUET.format(reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    return _as_strings(frame)


def _check_declared_size(metadata: pq.FileMetaData, limits: Limits) -> None:
    """Refuse from the footer alone a file with too many rows, or whose pages decompress past the limit."""
    if metadata.num_rows > limits.rows:
        _fail(TOO_MANY_ROWS.format(limit=limits.rows), row=limits.rows + 1)
    declared = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        declared += sum(row_group.column(column).total_uncompressed_size for column in range(row_group.num_columns))
    if declared > limits.decoded_bytes:
        _fail(DECLARED_TOO_LARGE.format(size=size_label(declared), limit=size_label(limits.decoded_bytes)))


# CSV -----------------------------------------------------------------------------------------------


def _read_csv(path: Path, limits: Limits) -> pd.DataFrame:
    _check_utf8(path)
    names = _header(path)
    for name in names:
        if names.count(name) > 1:
            _fail(DUPLICATE_COLUMNS.format(name=name))
    # A block holds whole rows, so it must hold the longest row the cell limit allows.
    block = max(CHUNK_BYTES, len(names) * (limits.cell_bytes + 3) + 2)
    # pyarrow's reader is strict (a row with more or fewer cells than the header is an error,
    # where pandas would shift columns or fill blanks) and several times faster.
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=block),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in names}),
        )
        table = _collect(_batches(reader), limits)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Could not skip initial" in message:  # the header line and nothing after it
            _fail(NO_ROWS)
        if "straddl" in message:  # a row longer than a block
            line = _first_line_longer_than(path, block)
            _fail(ROW_TOO_LONG.format(limit=size_label(block), cell=limits.cell_bytes), row=max(line - 1, 0))
        _fail(MALFORMED.format(detail=_malformed_detail(message, path)))
    if table is None:
        return pd.DataFrame(columns=names)
    return table.to_pandas()


def _batches(reader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def _header(path: Path) -> list[str]:
    with path.open("rb") as source:
        line = source.readline(HEADER_LIMIT + 1)
    if len(line) > HEADER_LIMIT:
        _fail(HEADER_TOO_LONG.format(limit=size_label(HEADER_LIMIT)))
    text = line.removeprefix(codecs.BOM_UTF8).decode("utf-8").rstrip("\r\n")
    return [name.strip() for name in next(csv.reader([text]))]


def _check_utf8(path: Path) -> None:
    """Name the line of the first byte that is not UTF-8, reading the file in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, first = 1, True
    with path.open("rb") as source:
        while True:
            chunk = source.read(CHUNK_BYTES)
            if first:
                chunk, first = chunk.removeprefix(codecs.BOM_UTF8), False
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.object is what the decoder held back from the last chunk (never a newline) plus this one.
                _fail(NOT_UTF8.format(byte=exc.object[exc.start], line=line + exc.object.count(b"\n", 0, exc.start)))
            if not chunk:
                return
            line += chunk.count(b"\n")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as source:
        yield from enumerate(source, start=1)


def _first_line_longer_than(path: Path, limit: int) -> int:
    with path.open("rb") as source:
        number, length = 1, 0
        while chunk := source.read(CHUNK_BYTES):
            for part in chunk.split(b"\n")[:-1]:
                if length + len(part) > limit:
                    return number
                number, length = number + 1, 0
            length += len(chunk.rsplit(b"\n", 1)[-1])
            if length > limit:
                return number
    return 0


def _malformed_detail(message: str, path: Path) -> str:
    """Arrow names the offending row's text but not its line; find the line for the data steward."""
    message = message.removeprefix("CSV parse error: ")
    expected, _, row_text = message.partition(": ")
    if not row_text:
        return message
    wanted = row_text.encode("utf-8")
    for number, line in _lines(path):
        if line.rstrip(b"\r\n") == wanted:
            return f"line {number}: {expected.lower()} ({row_text[:80]})"
    return message


# SQL -----------------------------------------------------------------------------------------------


def read_sql(url: str, query: str, *, limits: Limits | None = None) -> Table:
    """Rows of one SELECT, run in a read-only transaction on a connection opened read-only."""
    check_select(query)
    limits = limits or Limits.from_settings()
    engine = read_only_engine(url)
    try:
        with read_only_connection(engine) as connection:
            # A server-side cursor where the driver has one, so rows arrive a batch at a time.
            result = connection.execution_options(stream_results=True).execute(sqlalchemy.text(query))
            columns = result.keys()  # a result's column names (iterating the result gives rows)
            names = [str(name) for name in columns]
            for name in names:
                if names.count(name) > 1:
                    _fail(DUPLICATE_COLUMNS.format(name=name))
            table = _collect(_sql_batches(result, names), limits)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(f"the query failed: {reason}")
    finally:
        engine.dispose()
    if table is None:
        _fail(NO_QUERY_ROWS)
    shown_url = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    return Table(
        frame=table.to_pandas(),
        source_name=f"{shown_url} :: {query}"[:500],
        sha256=sha256_hex(query.encode("utf-8")),
    )


def check_select(query: str) -> None:
    """Refuse anything but one SELECT (a WITH ... SELECT included); the read-only transaction stops the rest."""
    statements = [s for s in sqlparse.parse(query) if s.token_first(skip_ws=True, skip_cm=True) is not None]
    if len(statements) != 1:
        _fail(ONE_STATEMENT.format(count=len(statements)))
    kind = statements[0].get_type()
    if kind == "UNKNOWN":
        _fail(NOT_A_SELECT.format(kind="not a statement we recognise"))
    if kind != "SELECT":
        _fail(NOT_A_SELECT.format(kind=f"{'an' if kind[0] in 'AEIOU' else 'a'} {kind}"))


# Statements that make every transaction on a new connection read-only, by dialect.
_READ_ONLY_SESSION = {
    "sqlite": "PRAGMA query_only = ON",
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}
# ... and the one that makes the transaction the query runs in read-only, where the dialect has one.
_READ_ONLY_TRANSACTION = {"postgresql": "SET TRANSACTION READ ONLY"}


def read_only_session(dialect: str) -> str:
    """The statement that makes a new connection of this dialect read-only; refuses a dialect without one."""
    if dialect not in _READ_ONLY_SESSION:
        _fail(NO_READ_ONLY.format(dialect=dialect))
    return _READ_ONLY_SESSION[dialect]


def read_only_engine(url: str) -> sqlalchemy.Engine:
    """An engine whose every new connection is made read-only before it is used."""
    try:
        engine = sqlalchemy.create_engine(url)
    except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
        _fail(f"the database URL cannot be used: {exc}")
    dialect = engine.dialect.name
    try:
        session = read_only_session(dialect)
    except ImportFailed:
        engine.dispose()
        raise

    @sqlalchemy.event.listens_for(engine, "connect")
    def read_only(dbapi_connection, record):
        cursor = dbapi_connection.cursor()
        cursor.execute(session)
        cursor.close()
        if dialect != "sqlite":
            dbapi_connection.commit()  # a session setting made in a transaction lasts only if it commits

    return engine


@contextmanager
def read_only_connection(engine: sqlalchemy.Engine) -> Iterator[sqlalchemy.Connection]:
    """A connection of a `read_only_engine` in a read-only transaction, which is rolled back, never committed."""
    with engine.connect() as connection:
        statement = _READ_ONLY_TRANSACTION.get(engine.dialect.name)
        if statement:
            connection.exec_driver_sql(statement)  # the first statement of the transaction, as it must be
        try:
            yield connection
        finally:
            connection.rollback()


def _sql_batches(result, names: list[str]) -> Iterator[pa.RecordBatch]:
    schema = pa.schema([(name, pa.string()) for name in names])
    while rows := result.fetchmany(BATCH_ROWS):
        frame = _as_strings(pd.DataFrame.from_records(rows, columns=names))
        yield pa.RecordBatch.from_pandas(frame, schema=schema, preserve_index=False)


# Cells as text -------------------------------------------------------------------------------------


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
