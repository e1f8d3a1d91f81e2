
import numpy as np
import pandas as pd
import pytest

from audit.fairness import AttributeSpec, AuditInputError, AuditSpec, audit
from audit.fairness.verdicts import VERDICT_FAIL, VERDICT_INCONCLUSIVE, VERDICT_INSUFFICIENT, VERDICT_PASS
from tests.audit.fairness.synthetic import make_audit_data, members

GROUPS = {"race": ("a", "b", "c"), "sex": ("f", "m")}
ALL_METRICS = (
    "mean_score_gap",
    "selection_rate_gap",
    "equal_opportunity_gap",
    "false_positive_rate_gap",
    "equalized_odds_difference",
    "mean_absolute_error_gap",
)


def spec_for(*attributes, **options) -> AuditSpec:
    options = {"replicates": 200, "min_group_size": 30, **options}
    return AuditSpec(attributes=tuple(a if isinstance(a, AttributeSpec) else AttributeSpec(a) for a in attributes),
                     **options)  # fmt: skip


@pytest.fixture(scope="module")
def labelled():
    data = make_audit_data(GROUPS, n=4000, effects={"race": (0.0, 0.03, 0.08)}, labels=True, targets=True, seed=1)
    return data, audit(data, spec_for("race", "sex", metrics=ALL_METRICS))


def frame_of(data) -> pd.DataFrame:
    frame = pd.DataFrame({"score": data.scores, "selected": data.selected, "label": data.labels,
                          "target": data.targets})  # fmt: skip
    for name, codes in data.attributes.items():
        frame[name] = np.asarray(codes.groups)[codes.codes]
    return frame


def test_group_means_match_numpy_within_the_fixed_point_resolution(labelled):
    data, findings = labelled
    for race, group in findings["attributes"]["race"]["groups"].items():
        mine = members(data, "race", race)
        assert group["n"] == mine.sum()
        assert abs(group["mean_score"] - data.scores[mine].mean()) <= 2**-33


def test_rates_match_pandas(labelled):
    data, findings = labelled
    frame = frame_of(data)
    for race, rows in frame.groupby("race"):
        group = findings["attributes"]["race"]["groups"][race]
        positives, negatives = rows[rows.label == 1], rows[rows.label == 0]
        assert group["positives"] == len(positives) and group["negatives"] == len(negatives)
        assert group["selection_rate"] == pytest.approx(rows.selected.mean(), abs=1e-15)
        assert group["tpr"] == pytest.approx(positives.selected.mean(), abs=1e-15)
        assert group["fnr"] == pytest.approx(1 - positives.selected.mean(), abs=1e-15)
        assert group["fpr"] == pytest.approx(negatives.selected.mean(), abs=1e-15)
        assert group["precision"] == pytest.approx(rows[rows.selected].label.mean(), abs=1e-15)


def test_errors_against_the_target_match_numpy(labelled):
    data, findings = labelled
    for race, group in findings["attributes"]["race"]["groups"].items():
        error = data.scores[members(data, "race", race)] - data.targets[members(data, "race", race)]
        assert abs(group["mean_absolute_error"] - np.abs(error).mean()) <= 2**-33
        assert abs(group["mean_signed_error"] - error.mean()) <= 3 * 2**-33


def test_intersection_groups_match_pandas(labelled):
    data, findings = labelled
    frame = frame_of(data)
    groups = findings["intersections"]["race & sex"]["groups"]
    for (race, sex), rows in frame.groupby(["race", "sex"]):
        group = groups[f"{race} & {sex}"]
        assert group["n"] == len(rows)
        assert abs(group["mean_score"] - rows.score.mean()) <= 2**-33
        assert group["selection_rate"] == pytest.approx(rows.selected.mean(), abs=1e-15)


def test_gaps_are_the_highest_minus_the_lowest_group(labelled):
    _, findings = labelled
    section = findings["attributes"]["race"]
    groups = section["groups"].values()
    for metric, measure in [
        ("mean_score_gap", "mean_score"),
        ("selection_rate_gap", "selection_rate"),
        ("equal_opportunity_gap", "tpr"),
        ("false_positive_rate_gap", "fpr"),
        ("mean_absolute_error_gap", "mean_absolute_error"),
    ]:
        values = [g[measure] for g in groups]
        assert section["gaps"][metric]["value"] == max(values) - min(values)
    gaps = section["gaps"]
    assert gaps["equalized_odds_difference"]["value"] == max(
        gaps["equal_opportunity_gap"]["value"], gaps["false_positive_rate_gap"]["value"]
    )
    assert section["mean_score_gap"] == gaps["mean_score_gap"]
    assert (gaps["mean_score_gap"]["highest"], gaps["mean_score_gap"]["lowest"]) == ("c", "a")
    lo, hi = gaps["mean_score_gap"]["ci"]
    assert lo < gaps["mean_score_gap"]["value"] < hi


def test_every_requested_metric_gets_a_verdict(labelled):
    _, findings = labelled
    judged = {(v["grouping"], v["metric"]) for v in findings["verdicts"]}
    assert judged == {(grouping, metric) for grouping in ("race", "sex", "race & sex") for metric in ALL_METRICS}
    assert all(v["verdict"] in {VERDICT_PASS, VERDICT_FAIL, VERDICT_INCONCLUSIVE} for v in findings["verdicts"])


def test_a_large_true_gap_fails():
    data = make_audit_data({"race": ("a", "b")}, n=2000, effects={"race": (0.0, 0.15)}, seed=2)
    gap = audit(data, spec_for("race"))["attributes"]["race"]["mean_score_gap"]
    assert gap["value"] == pytest.approx(0.15, abs=0.02)
    assert gap["ci"][0] > 0.05
    assert gap["verdict"] == VERDICT_FAIL and gap["n_needed"] is None


def test_no_gap_in_a_large_sample_passes():
    data = make_audit_data({"race": ("a", "b")}, n=6000, seed=3)
    gap = audit(data, spec_for("race"))["attributes"]["race"]["mean_score_gap"]
    assert gap["ci"][1] < 0.05
    assert gap["verdict"] == VERDICT_PASS and gap["threshold"] == 0.05


def test_a_gap_near_the_threshold_in_small_groups_is_inconclusive():
    data = make_audit_data({"race": ("a", "b")}, sizes={"race": (40, 40)}, effects={"race": (0.0, 0.05)}, seed=4)
    gap = audit(data, spec_for("race"))["attributes"]["race"]["mean_score_gap"]

    assert gap["ci"][0] < 0.05 < gap["ci"][1]
    assert gap["verdict"] == VERDICT_INCONCLUSIVE
    assert gap["n_needed"] > 40


def test_small_groups_are_reported_as_insufficient_and_left_out_of_the_gap():
    data = make_audit_data(
        {"race": ("a", "b", "c")}, sizes={"race": (500, 500, 10)}, effects={"race": (0.0, 0.02, 0.4)}, seed=5
    )
    section = audit(data, spec_for("race"))["attributes"]["race"]

    assert section["insufficient_groups"] == ["c"]
    assert section["groups"]["c"]["sufficient"] is False
    assert section["groups"]["c"]["n"] == 10
    assert section["groups"]["c"]["mean_score"] > 0.8
    assert section["groups"]["a"]["sufficient"] is True
    means = {race: section["groups"][race]["mean_score"] for race in ("a", "b")}
    assert section["mean_score_gap"]["value"] == abs(means["b"] - means["a"])
    assert {section["mean_score_gap"]["highest"], section["mean_score_gap"]["lowest"]} == {"a", "b"}


def test_a_gap_with_only_one_sufficient_group_is_insufficient():
    data = make_audit_data({"race": ("a", "b", "c")}, sizes={"race": (200, 10, 10)}, seed=6)
    section = audit(data, spec_for("race"))["attributes"]["race"]

    assert section["insufficient_groups"] == ["b", "c"]
    assert section["mean_score_gap"]["value"] is None
    assert section["mean_score_gap"]["ci"] == [None, None]
    assert section["mean_score_gap"]["verdict"] == VERDICT_INSUFFICIENT


def test_intersections_cover_every_item_once():
    groups = {"race": ("a", "b", "c"), "sex": ("f", "m"), "age": ("young", "old")}
    data = make_audit_data(groups, n=1200, seed=7)
    findings = audit(data, spec_for("race", "sex", "age", min_group_size=5))

    assert list(findings["attributes"]) == ["race", "sex", "age"]
    assert list(findings["intersections"]) == ["race & sex", "race & age", "sex & age", "race & sex & age"]
    for section in [*findings["attributes"].values(), *findings["intersections"].values()]:
        assert sum(g["n"] for g in section["groups"].values()) == 1200
    triple = findings["intersections"]["race & sex & age"]
    assert len(triple["groups"]) == 12
    assert "a & f & young" in triple["groups"]
    assert triple["attributes"] == ["race", "sex", "age"]


def test_intersections_can_be_turned_off():
    data = make_audit_data(GROUPS, n=300, seed=8)
    assert audit(data, spec_for("race", "sex", intersections=False))["intersections"] == {}


def test_an_ordinal_attribute_gets_a_rising_trend_when_means_rise_along_the_order():
    order = ("light", "medium", "dark")
    data = make_audit_data({"tone": ("light", "medium", "dark")}, n=1500, effects={"tone": (-0.1, 0.0, 0.1)}, seed=9)
    section = audit(data, spec_for(AttributeSpec("tone", order=order)))["attributes"]["tone"]

    trend = section["trend"]
    assert trend["order"] == list(order) and trend["groups_used"] == list(order)
    assert trend["slope"] == pytest.approx(0.1, abs=0.02)
    assert 0 < trend["ci"][0] < trend["slope"] < trend["ci"][1]
    means = [section["groups"][g]["mean_score"] for g in order]
    sizes = [section["groups"][g]["n"] for g in order]
    assert trend["slope"] == pytest.approx(np.polyfit([0, 1, 2], means, 1, w=np.sqrt(sizes))[0], abs=1e-12)


def test_a_nominal_attribute_has_no_trend(labelled):
    _, findings = labelled
    assert "trend" not in findings["attributes"]["race"]


def test_the_default_reference_is_the_largest_sufficient_group():
    data = make_audit_data({"race": ("a", "b", "c")}, sizes={"race": (100, 300, 200)}, seed=10)
    section = audit(data, spec_for("race"))["attributes"]["race"]

    assert section["reference"] == "b"
    assert set(section["versus_reference"]) == {"a", "c"}
    difference = section["versus_reference"]["a"]["mean_score_difference"]["value"]
    assert difference == section["groups"]["a"]["mean_score"] - section["groups"]["b"]["mean_score"]


def test_a_chosen_reference_group_is_used():
    data = make_audit_data({"race": ("a", "b", "c")}, sizes={"race": (100, 300, 200)}, seed=10)
    section = audit(data, spec_for(AttributeSpec("race", reference="a")))["attributes"]["race"]

    assert section["reference"] == "a"
    assert set(section["versus_reference"]) == {"b", "c"}
    ratio = section["versus_reference"]["c"]["disparate_impact_ratio"]["value"]
    assert ratio == section["groups"]["c"]["selection_rate"] / section["groups"]["a"]["selection_rate"]


def test_a_reference_group_without_items_is_refused_naming_the_attribute():
    data = make_audit_data({"race": ("a", "b")}, n=100, seed=11)
    with pytest.raises(AuditInputError) as caught:
        audit(data, spec_for(AttributeSpec("race", reference="z")))
    assert caught.value.problems == [("race", "reference group 'z' has no items")]
    assert str(caught.value) == "race: reference group 'z' has no items"


def test_label_metrics_without_labels_are_refused():
    data = make_audit_data({"race": ("a", "b")}, n=100, seed=12)
    with pytest.raises(AuditInputError) as caught:
        audit(data, spec_for("race", metrics=("mean_score_gap", "equal_opportunity_gap", "mean_absolute_error_gap")))
    assert caught.value.problems == [
        ("metrics", "equal_opportunity_gap needs a binary ground-truth label column"),
        ("metrics", "mean_absolute_error_gap needs a target column"),
    ]


def test_a_bad_spec_names_every_problem():
    with pytest.raises(AuditInputError) as caught:
        AuditSpec(attributes=(AttributeSpec("race"),), threshold=1.5, replicates=0, metrics=("mystery_gap",))
    assert [column for column, _ in caught.value.problems] == ["threshold", "bootstrap", "metrics"]
