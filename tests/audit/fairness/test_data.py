import numpy as np
import pandas as pd
import pytest

from audit.fairness import AttributeSpec, AuditInputError, errors, from_frame, read_score_file
from audit.fairness.data import MAX_PROBLEMS_PER_COLUMN

RACE = AttributeSpec("race")
SEX = AttributeSpec("sex")


def table(**columns) -> pd.DataFrame:
    """A small file as read from CSV (every cell text); `columns` replace or add to the defaults."""
    base = {
        "id": ["1", "2", "3", "4"],
        "score": ["0.2", "0.9", "0.5", "0.4"],
        "race": ["a", "b", "a", "b"],
        "sex": ["f", "f", "m", "m"],
        "label": ["0", "1", "1", "0"],
    }
    return pd.DataFrame({**base, **columns}, dtype=str)


def load(frame, **options):
    options = {"id_column": "id", "score_column": "score", "attributes": [RACE, SEX], **options}
    return from_frame(frame, **options)


def problems_of(frame, **options) -> list[tuple[str, str]]:
    with pytest.raises(AuditInputError) as caught:
        load(frame, **options)
    return caught.value.problems


def test_a_good_file_becomes_arrays():
    data = load(table(), label_column="label")

    assert list(data.keys) == ["1", "2", "3", "4"]
    assert data.scores.tolist() == [0.2, 0.9, 0.5, 0.4]
    assert data.selected.tolist() == [False, True, True, False]
    assert data.labels.tolist() == [0, 1, 1, 0] and data.labels.dtype == np.int8
    assert data.attributes["race"].groups == ("a", "b")
    assert data.attributes["race"].codes.tolist() == [0, 1, 0, 1]
    assert data.targets is None


def test_scores_on_another_scale_are_divided_by_the_maximum_and_selected_on_the_files_scale():
    frame = table(score=["1", "10", "5", "4"], target=["2", "10", "5", "0"])
    data = load(frame, score_max=10, decision_threshold=5, target_column="target")

    assert data.scores.tolist() == [0.1, 1.0, 0.5, 0.4]
    assert data.targets.tolist() == [0.2, 1.0, 0.5, 0.0]
    assert data.selected.tolist() == [False, True, True, False]


def test_an_ordered_attribute_keeps_the_order_of_the_scale():
    frame = table(race=["high", "low", "mid", "low"])
    data = load(frame, attributes=[AttributeSpec("race", order=("low", "mid", "high", "unused"))])
    assert data.attributes["race"].groups == ("low", "mid", "high")
    assert data.attributes["race"].codes.tolist() == [2, 0, 1, 0]


def test_numeric_cells_read_from_parquet_are_accepted():
    frame = pd.DataFrame({"id": [10, 11, 12], "score": [0.1, 0.6, 0.7], "race": [1.0, 2.0, 1.0], "sex": ["f"] * 3})
    data = load(frame, attributes=[RACE])
    assert list(data.keys) == ["10", "11", "12"]
    assert data.attributes["race"].groups == ("1", "2")


def test_a_score_out_of_range_is_named_with_its_row():
    assert problems_of(table(score=["0.2", "1.5", "0.5", "-0.1"])) == [
        ("score", errors.SCORE_OUT_OF_RANGE.format(row=2, value=1.5, score_max=1.0)),
        ("score", errors.SCORE_OUT_OF_RANGE.format(row=4, value=-0.1, score_max=1.0)),
    ]
    assert problems_of(table(score=["1", "11", "5", "4"]), score_max=10) == [
        ("score", "row 2: score 11.0 is outside 0 to 10"),
    ]


def test_a_missing_score_is_named_with_its_row():
    assert problems_of(table(score=["0.2", "", "nan", "0.4"])) == [
        ("score", errors.SCORE_MISSING.format(row=2)),
        ("score", errors.SCORE_MISSING.format(row=3)),
    ]


def test_a_missing_score_in_a_numeric_column_is_named_with_its_row():
    frame = table()
    frame["score"] = [0.2, np.nan, 0.5, 0.4]
    assert problems_of(frame) == [("score", errors.SCORE_MISSING.format(row=2))]


def test_a_score_that_is_not_a_number_is_named_with_its_row():
    assert problems_of(table(score=["0.2", "0.9", "high", "0.4"])) == [
        ("score", errors.SCORE_NOT_A_NUMBER.format(row=3, value="high")),
    ]
    assert errors.SCORE_NOT_A_NUMBER.format(row=3, value="high") == "row 3: score 'high' is not a number"


def test_a_bad_target_is_named_with_its_row():
    frame = table(target=["0.2", "x", "", "2"])
    assert problems_of(frame, target_column="target") == [
        ("target", errors.TARGET_NOT_A_NUMBER.format(row=2, value="x")),
        ("target", errors.TARGET_MISSING.format(row=3)),
        ("target", errors.TARGET_OUT_OF_RANGE.format(row=4, value=2.0, score_max=1.0)),
    ]


def test_a_missing_attribute_value_is_named_with_its_row():
    assert problems_of(table(race=["a", "b", " ", "a"])) == [("race", errors.ATTRIBUTE_MISSING.format(row=3))]


def test_a_value_outside_the_order_is_named_with_its_row():
    frame = table(race=["low", "high", "medium", "low"])
    problems = problems_of(frame, attributes=[AttributeSpec("race", order=("low", "mid", "high"))])
    assert problems == [("race", errors.ATTRIBUTE_UNKNOWN.format(row=3, value="medium", allowed="low, mid, high"))]
    assert problems[0][1] == "row 3: 'medium' is not a value of this attribute (allowed: low, mid, high)"


def test_a_label_other_than_zero_or_one_is_named_with_its_row():
    frame = table(label=["0", "2", "1.0", "yes"])
    assert problems_of(frame, label_column="label") == [
        ("label", errors.LABEL_NOT_BINARY.format(row=2, value="2")),
        ("label", errors.LABEL_NOT_BINARY.format(row=4, value="yes")),
    ]


def test_an_attribute_with_a_single_group_is_refused():
    assert problems_of(table(sex=["f", "f", "f", "f"])) == [("sex", errors.SINGLE_GROUP.format(value="f"))]


def test_a_file_with_no_rows_is_refused():
    assert problems_of(table().iloc[:0]) == [("", errors.NO_ROWS)]


def test_a_missing_column_is_named_with_the_columns_present():
    assert problems_of(table(), label_column="outcome") == [
        ("outcome", errors.MISSING_COLUMN.format(column="outcome", columns="id, score, race, sex, label")),
    ]


def test_a_duplicate_id_names_both_rows():
    assert problems_of(table(id=["1", "2", "1", ""])) == [
        ("id", errors.MISSING_KEY.format(row=4)),
        ("id", errors.DUPLICATE_KEY.format(row=3, key="1", first=1)),
    ]
    assert errors.DUPLICATE_KEY.format(row=3, key="1", first=1) == "row 3: id '1' already appears on row 1"


def test_every_problem_in_every_column_is_reported_at_once():
    frame = table(score=["0.2", "2", "0.5", "0.4"], race=["a", "", "a", "b"], label=["0", "1", "5", "0"])
    problems = problems_of(frame, label_column="label")
    assert [column for column, _ in problems] == ["score", "race", "label"]


def test_a_column_with_many_problems_reports_the_first_ones_and_a_count():
    n = MAX_PROBLEMS_PER_COLUMN + 5
    frame = pd.DataFrame({"id": [str(i) for i in range(n)], "score": ["bad"] * n, "race": ["a", "b"] * (n // 2) + ["a"],
                          "sex": ["f", "m"] * (n // 2) + ["m"]})  # fmt: skip
    problems = problems_of(frame)
    assert len(problems) == MAX_PROBLEMS_PER_COLUMN + 1
    assert problems[0] == ("score", errors.SCORE_NOT_A_NUMBER.format(row=1, value="bad"))
    assert problems[-1] == ("score", errors.MORE_PROBLEMS.format(count=5))


def test_a_csv_file_is_read_as_text(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("id,score,race,sex\n007,0.25,a,f\n008,,b,NA\n", encoding="utf-8")
    frame = read_score_file(path)

    assert frame["id"].tolist() == ["007", "008"]
    assert frame["score"].tolist() == ["0.25", ""]
    assert frame["sex"].tolist() == ["f", "NA"]  # "NA" is a value, not a missing cell


def test_a_parquet_file_is_read(tmp_path):
    path = tmp_path / "scores.parquet"
    table().assign(score=[0.2, 0.9, 0.5, 0.4]).to_parquet(path)
    data = load(read_score_file(path))
    assert data.scores.tolist() == [0.2, 0.9, 0.5, 0.4]
    assert list(data.keys) == ["1", "2", "3", "4"]


def test_an_unsupported_file_type_is_refused(tmp_path):
    with pytest.raises(AuditInputError) as caught:
        read_score_file(tmp_path / "scores.xlsx")
    assert caught.value.problems == [("", "unsupported file type '.xlsx'; use .csv or .parquet")]
