"""Helpers shared by the consent and item importers."""

from collections.abc import Iterable, Iterator

import pandas as pd

from consent.errors import ImportFailed, ImportProblem

CHUNK = 10_000  # below SQLite's limit on bound parameters
UNKNOWN_COLUMNS = "unknown column(s) {names}; expected some of {expected}"
MISSING_COLUMNS = "missing required column(s) {names}"
BAD_TIME = "{value!r} is not a date or an ISO 8601 timestamp"


def check_columns(frame: pd.DataFrame, *, required: set[str], optional: set[str], extra_ok=lambda name: False):
    problems = []
    unknown = [c for c in frame.columns if c not in required | optional and not extra_ok(c)]
    if unknown:
        expected = ", ".join(sorted(required | optional))
        problems.append(ImportProblem(0, "", UNKNOWN_COLUMNS.format(names=", ".join(unknown), expected=expected)))
    missing = sorted(required - set(frame.columns))
    if missing:
        problems.append(ImportProblem(0, "", MISSING_COLUMNS.format(names=", ".join(missing))))
    if problems:
        raise ImportFailed(problems)


def column(frame: pd.DataFrame, name: str) -> list[str]:
    if name not in frame.columns:
        return [""] * len(frame)
    return [value.strip() if isinstance(value, str) else _cell(value) for value in frame[name].tolist()]


def _cell(value) -> str:
    # Frames handed to the importers directly (not read from a file) may hold NaN or numbers.
    if value is None or value != value:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_times(values: list[str], field: str, problems: list[ImportProblem]) -> list:
    """Aware UTC datetimes (None where empty); timestamps without an offset are taken as UTC."""
    series = pd.Series(values, dtype="string").replace("", pd.NA)
    parsed = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna() & series.notna()
    for index in bad[bad].index:
        problems.append(ImportProblem(index + 1, field, BAD_TIME.format(value=values[index])))
    return [None if pd.isna(v) else v for v in parsed.dt.to_pydatetime()]


def chunks(values: Iterable, size: int = CHUNK) -> Iterator[list]:
    batch = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
