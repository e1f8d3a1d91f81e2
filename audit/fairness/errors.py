"""Messages of the fairness engine, as constants that tests compare exactly."""

NO_ROWS = "the file has no rows"
EMPTY_FILE = "the file is empty (0 bytes): export the scored items with a header row and one row per item"
NO_COLUMNS = "the file has no header row and no columns"
NOT_PARQUET = "the file is not a readable Parquet file ({reason})"
NOT_UTF8 = "the file is not UTF-8 text (first undecodable byte at offset {position})"
THRESHOLD_SELECTS = (
    "the decision threshold {threshold:g} selects {which} rows on a {scale} scale{guess} "
    "(selection rates, TPR and FPR then cannot differ between groups)"
)
MISSING_COLUMN = "column {column!r} is not in the file (columns: {columns})"
DUPLICATE_KEY = "row {row}: id {key!r} already appears on row {first}"
MISSING_KEY = "row {row}: the id is empty"
SCORE_NOT_A_NUMBER = "row {row}: score {value!r} is not a number"
SCORE_MISSING = "row {row}: the score is missing"
SCORE_OUT_OF_RANGE = "row {row}: score {value} is outside 0 to {score_max}"
TARGET_NOT_A_NUMBER = "row {row}: target {value!r} is not a number"
TARGET_MISSING = "row {row}: the target is missing"
TARGET_OUT_OF_RANGE = "row {row}: target {value} is outside 0 to {score_max}"
LABEL_NOT_BINARY = "row {row}: label {value!r} is not 0 or 1"
ATTRIBUTE_MISSING = "row {row}: the value is missing"
ATTRIBUTE_UNKNOWN = "row {row}: {value!r} is not a value of this attribute (allowed: {allowed})"
SINGLE_GROUP = "every row has the same value {value!r}; an attribute needs at least two groups to compare"
MORE_PROBLEMS = "... and {count} more problem(s) in this column"

CROSS_CHECK_FAILED = (
    "the cross-check disagrees: {library} gives {theirs!r} for {metric} of {where}, the engine {ours!r} "
    "(difference {difference:.3g}, tolerance {tolerance:g})"
)


class AuditInputError(ValueError):
    """Bad input to an audit; `problems` lists (column, message) pairs, every one of them."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{column}: {message}" if column else message for column, message in problems))


class CrossCheckError(RuntimeError):
    """The engine's point estimates differ from Fairlearn's or AIF360's by more than the tolerance."""

    def __init__(self, disagreements: list[str], report: dict):
        self.disagreements = disagreements
        self.report = report
        super().__init__("; ".join(disagreements))
