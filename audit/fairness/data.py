"""The audited items as arrays, checked: one row per item, every problem named by column and row."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.fairness import errors
from audit.fairness.spec import AttributeSpec

MAX_PROBLEMS_PER_COLUMN = 20


@dataclass(frozen=True)
class GroupCodes:
    """An attribute's value per item as an index into `groups` (the groups present, in scale order)."""

    codes: np.ndarray
    groups: tuple[str, ...]


@dataclass(frozen=True)
class AuditData:
    keys: np.ndarray  # item keys as strings: the bootstrap weights are a function of them
    scores: np.ndarray  # float64, 0 to 1
    selected: np.ndarray  # bool: score at or over the decision threshold
    attributes: dict[str, GroupCodes]
    labels: np.ndarray | None = None  # int8 0/1 ground truth
    targets: np.ndarray | None = None  # float64 0 to 1, a continuous ground truth on the score's scale
    warnings: tuple[str, ...] = ()  # what the input check noticed without refusing the input

    def __len__(self) -> int:
        return len(self.scores)

    def subset(self, rows: np.ndarray) -> "AuditData":
        """The same items' rows `rows` (a shard); groups keep their codes so that shards merge."""
        return AuditData(
            keys=self.keys[rows],
            scores=self.scores[rows],
            selected=self.selected[rows],
            attributes={name: GroupCodes(a.codes[rows], a.groups) for name, a in self.attributes.items()},
            labels=None if self.labels is None else self.labels[rows],
            targets=None if self.targets is None else self.targets[rows],
            warnings=self.warnings,
        )


def read_score_file(path: Path) -> pd.DataFrame:
    """A CSV (every cell as text, nothing guessed) or Parquet file of scored items."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise errors.AuditInputError([("", f"unsupported file type {suffix!r}; use .csv or .parquet")])
    if path.stat().st_size == 0:
        raise errors.AuditInputError([("", errors.EMPTY_FILE)])
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise errors.AuditInputError([("", errors.NO_COLUMNS)]) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise errors.AuditInputError([("", errors.NOT_PARQUET.format(reason=exc))]) from None
    except UnicodeDecodeError as exc:
        raise errors.AuditInputError([("", errors.NOT_UTF8.format(position=exc.start))]) from None


def from_frame(
    frame: pd.DataFrame,
    *,
    id_column: str,
    score_column: str,
    attributes: Sequence[AttributeSpec],
    label_column: str | None = None,
    target_column: str | None = None,
    score_max: float = 1.0,
    decision_threshold: float = 0.5,
) -> AuditData:
    """Check a table of scored items and turn it into arrays.

    Scores and targets are divided by `score_max` so that they lie in 0-1; `decision_threshold`
    is on the file's own scale (a COMPAS decile score of 5 or more is "selected").
    """
    problems: list[tuple[str, str]] = []
    wanted = [id_column, score_column, *(a.name for a in attributes), label_column, target_column]
    missing = [c for c in wanted if c is not None and c not in frame.columns]
    if missing:
        columns = ", ".join(map(str, frame.columns))
        raise errors.AuditInputError([(c, errors.MISSING_COLUMN.format(column=c, columns=columns)) for c in missing])
    if len(frame) == 0:
        raise errors.AuditInputError([("", errors.NO_ROWS)])
    if not score_max > 0:
        raise errors.AuditInputError([("score_max", f"{score_max} must be above 0")])

    keys = _keys(frame[id_column], id_column, problems)
    raw_scores = _numbers(frame[score_column], score_column, score_max, problems, "SCORE")
    groups = {spec.name: _groups(frame[spec.name], spec, problems) for spec in attributes}
    labels = _labels(frame[label_column], label_column, problems) if label_column else None
    raw_targets = None
    if target_column:
        raw_targets = _numbers(frame[target_column], target_column, score_max, problems, "TARGET")
    if problems:
        raise errors.AuditInputError(problems)
    selected = raw_scores >= decision_threshold
    return AuditData(
        keys=keys,
        scores=raw_scores / score_max if score_max != 1 else raw_scores,
        selected=selected,
        warnings=_threshold_warnings(selected, decision_threshold, score_max),
        attributes=groups,
        labels=labels,
        targets=None if raw_targets is None else (raw_targets / score_max if score_max != 1 else raw_targets),
    )


def _threshold_warnings(selected: np.ndarray, threshold: float, score_max: float) -> tuple[str, ...]:
    count = int(np.count_nonzero(selected))
    if count not in (0, len(selected)):
        return ()
    which = f"all {len(selected):,}" if count else f"none of the {len(selected):,}"
    scale = f"0-{score_max:g}"
    guess = f": did you mean {threshold * score_max:g}?" if score_max > 1 and 0 < threshold < 1 else ""
    return (errors.THRESHOLD_SELECTS.format(threshold=threshold, which=which, scale=scale, guess=guess),)


def _report(problems, column, messages):
    problems.extend((column, m) for m in messages[:MAX_PROBLEMS_PER_COLUMN])
    if len(messages) > MAX_PROBLEMS_PER_COLUMN:
        problems.append((column, errors.MORE_PROBLEMS.format(count=len(messages) - MAX_PROBLEMS_PER_COLUMN)))


def _text(series: pd.Series) -> pd.Series:
    def cell(value):
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return series.map(cell).astype(object)


def _keys(series, column, problems) -> np.ndarray:
    keys = _text(series)
    messages = [errors.MISSING_KEY.format(row=i + 1) for i in np.flatnonzero((keys == "").to_numpy())]
    duplicated = keys.duplicated(keep=False) & (keys != "")
    if duplicated.any():
        first = {}
        for i, key in zip(np.flatnonzero(duplicated.to_numpy()), keys[duplicated], strict=True):
            if key in first:
                messages.append(errors.DUPLICATE_KEY.format(row=i + 1, key=key, first=first[key]))
            else:
                first[key] = i + 1
    _report(problems, column, messages)
    return keys.to_numpy(dtype=object)


def _numbers(series, column, score_max, problems, kind) -> np.ndarray:
    text = _text(series) if not pd.api.types.is_numeric_dtype(series) else None
    values = pd.to_numeric(series if text is None else text.replace("", None), errors="coerce").to_numpy(
        dtype=np.float64
    )
    messages = []
    for i in np.flatnonzero(np.isnan(values)):
        raw = "" if text is None else text.iloc[i]
        if raw == "" or raw.lower() == "nan":
            messages.append(getattr(errors, f"{kind}_MISSING").format(row=i + 1))
        else:
            messages.append(getattr(errors, f"{kind}_NOT_A_NUMBER").format(row=i + 1, value=raw))
    outside = ~np.isnan(values) & ((values < 0) | (values > score_max))
    for i in np.flatnonzero(outside):
        messages.append(getattr(errors, f"{kind}_OUT_OF_RANGE").format(row=i + 1, value=values[i], score_max=score_max))
    _report(problems, column, sorted(messages, key=_row_of))
    return values


def _row_of(message: str) -> int:
    return int(message.split(":", 1)[0].removeprefix("row "))


def _labels(series, column, problems) -> np.ndarray:
    text = _text(series)
    normal = text.replace({"1.0": "1", "0.0": "0", "True": "1", "False": "0", "true": "1", "false": "0"})
    bad = ~normal.isin(["0", "1"])
    _report(
        problems,
        column,
        [errors.LABEL_NOT_BINARY.format(row=i + 1, value=text.iloc[i]) for i in np.flatnonzero(bad.to_numpy())],
    )
    return (normal == "1").to_numpy(dtype=np.int8)


def _groups(series, spec: AttributeSpec, problems) -> GroupCodes:
    values = _text(series)
    messages = [errors.ATTRIBUTE_MISSING.format(row=i + 1) for i in np.flatnonzero((values == "").to_numpy())]
    present = set(values.unique()) - {""}
    if spec.order is not None:
        allowed = ", ".join(spec.order)
        unknown = np.flatnonzero(((values != "") & ~values.isin(spec.order)).to_numpy())
        messages += [errors.ATTRIBUTE_UNKNOWN.format(row=i + 1, value=values.iloc[i], allowed=allowed) for i in unknown]
        groups = tuple(g for g in spec.order if g in present)
    else:
        groups = tuple(sorted(present))
    messages.sort(key=_row_of)
    if not messages and len(groups) == 1:
        messages.append(errors.SINGLE_GROUP.format(value=groups[0]))
    _report(problems, spec.name, messages)
    codes = values.map({group: code for code, group in enumerate(groups)}).fillna(-1).to_numpy(dtype=np.int32)
    return GroupCodes(codes=codes, groups=groups)
