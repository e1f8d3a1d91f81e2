"""The defects found when the engine was tried as a new user would, each as a test that failed before."""

import numpy as np
import pandas as pd
import pytest

from audit.fairness import AttributeSpec, AuditData, AuditInputError, AuditSpec, GroupCodes, audit, cross_check
from audit.fairness.data import from_frame, read_score_file
from audit.fairness.errors import EMPTY_FILE
from audit.fairness.results import Findings
from audit.fairness.verdicts import VERDICT_FAIL, VERDICT_INSUFFICIENT
from tests.audit.fairness.synthetic import make_audit_data


def spec_for(*attributes, **options) -> AuditSpec:
    options = {"replicates": 200, "min_group_size": 30, **options}
    return AuditSpec(attributes=tuple(a if isinstance(a, AttributeSpec) else AttributeSpec(a) for a in attributes),
                     **options)  # fmt: skip


def test_many_small_groups_of_random_scores_get_an_interval_that_holds_the_gap_and_no_fail():
    # 300 groups of 40 with scores drawn alike: the old engine said FAIL, 0.2614 in [0.3212, 0.4533].
    groups = tuple(f"g{i:03d}" for i in range(300))
    data = make_audit_data({"group": groups}, sizes={"group": (40,) * 300}, spread=0.25, seed=1)
    gap = audit(data, spec_for("group", replicates=300))["attributes"]["group"]["mean_score_gap"]
    assert gap["ci"][0] <= gap["value"] <= gap["ci"][1]
    assert gap["verdict"] != VERDICT_FAIL


def test_a_judged_group_without_positives_is_undefined_and_the_run_goes_on():
    data = make_audit_data({"race": ("a", "b")}, n=2000, labels=True, seed=2)
    labels = data.labels.copy()
    labels[data.attributes["race"].codes == 1] = 0  # group b has no positives
    data = AuditData(data.keys, data.scores, data.selected, data.attributes, labels=labels)
    spec = spec_for("race", metrics=("mean_score_gap", "equal_opportunity_gap"))
    findings = audit(data, spec)
    section = findings["attributes"]["race"]
    assert section["groups"]["b"]["tpr"] is None and section["groups"]["b"]["positives"] == 0
    assert section["gaps"]["equal_opportunity_gap"]["verdict"] == VERDICT_INSUFFICIENT
    assert section["gaps"]["equal_opportunity_gap"]["insufficient_groups"] == ["b"]
    report = cross_check(data, findings)
    assert report["passed"] and report["not_compared_undefined"] > 0


def test_the_minimum_size_applies_to_a_rates_denominator():
    data = make_audit_data({"race": ("a", "b")}, n=2000, labels=True, seed=3)
    labels = data.labels.copy()
    b = np.flatnonzero(data.attributes["race"].codes == 1)
    labels[b] = 0
    labels[b[:10]] = 1  # 10 positives: under the minimum of 30
    data = AuditData(data.keys, data.scores, data.selected, data.attributes, labels=labels)
    gap = audit(data, spec_for("race", metrics=("equal_opportunity_gap",)))["attributes"]["race"]["gaps"]
    assert gap["equal_opportunity_gap"]["verdict"] == VERDICT_INSUFFICIENT
    assert gap["false_positive_rate_gap"]["insufficient_groups"] == []


def test_a_group_of_one_gets_no_interval_and_no_judgement():
    data = make_audit_data({"race": ("a", "b", "c")}, sizes={"race": (500, 500, 1)}, seed=4)
    section = audit(data, spec_for("race", min_group_size=1))["attributes"]["race"]
    assert section["groups"]["c"]["mean_score_ci"] == [None, None]
    assert section["groups"]["c"]["sufficient"] is False
    assert section["mean_score_gap"]["pairs"] == 1


def test_twenty_attributes_of_twelve_groups_audit_without_overflow_and_agree_with_the_libraries():
    groups = {f"a{i:02d}": tuple(f"g{j}" for j in range(12)) for i in range(20)}
    data = make_audit_data(groups, n=3000, seed=5)
    spec = spec_for(*groups, min_group_size=5, intersections=False, replicates=50)
    findings = audit(data, spec)
    assert len(findings["attributes"]) == 20
    assert cross_check(data, findings)["passed"]


def test_the_four_fifths_rule_can_be_judged():
    data = make_audit_data({"race": ("a", "b")}, n=6000, effects={"race": (0.0, 0.15)}, seed=6)
    findings = audit(data, spec_for("race", metrics=("disparate_impact_ratio",), ratio_threshold=0.8))
    ratio = findings["attributes"]["race"]["gaps"]["disparate_impact_ratio"]
    rates = [findings["attributes"]["race"]["groups"][g]["selection_rate"] for g in ("a", "b")]
    assert ratio["value"] == pytest.approx(min(rates) / max(rates), abs=1e-15)
    assert ratio["scale"] == "ratio" and ratio["threshold"] == 0.8
    assert ratio["ci"][0] <= ratio["value"] <= ratio["ci"][1] < 0.8
    assert ratio["verdict"] == VERDICT_FAIL


def test_impact_ratios_leave_out_small_and_unknown_categories_but_list_them():
    data = make_audit_data({"race": ("a", "b", "small", "unknown")}, sizes={"race": (3000, 2000, 50, 400)}, seed=7)
    section = audit(data, spec_for("race"))["attributes"]["race"]
    ratios = section["impact_ratios"]
    assert ratios["small"]["excluded"] and ratios["small"]["n"] == 50 and ratios["small"]["selection_rate"] is not None
    assert ratios["unknown"]["excluded"] and section["unknown_rows"] == 400
    top = max(("a", "b"), key=lambda g: section["groups"][g]["selection_rate"])
    other = "b" if top == "a" else "a"
    assert ratios[top]["value"] == 1.0
    expected = section["groups"][other]["selection_rate"] / section["groups"][top]["selection_rate"]
    assert ratios[other]["value"] == pytest.approx(expected, abs=1e-15)
    assert ratios[other]["ci"][0] <= ratios[other]["value"] <= ratios[other]["ci"][1]


def test_the_audit_verdict_fails_when_any_judged_grouping_fails():
    data = make_audit_data({"race": ("a", "b"), "sex": ("f", "m")}, n=6000, effects={"race": (0.0, 0.15)}, seed=8)
    run = audit(data, spec_for("race", "sex"))["verdict"]
    assert run["verdict"] == VERDICT_FAIL
    assert "race: mean_score_gap" in run["failures"]
    assert "max-|t|" in run["error_control"]


def test_the_typed_findings_round_trip_through_the_evidence_json():
    data = make_audit_data({"race": ("a", "b", "c"), "tone": ("1", "2", "3")}, n=3000, labels=True, targets=True,
                           seed=9)  # fmt: skip
    spec = spec_for("race", AttributeSpec("tone", order=("1", "2", "3")), metrics=("mean_score_gap",
                    "disparate_impact_ratio", "equalized_odds_ratio"))  # fmt: skip
    document = audit(data, spec)
    assert Findings.from_json(document).to_json() == document


def test_an_empty_file_gets_a_clear_message(tmp_path):
    for name in ("scores.csv", "scores.parquet"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(AuditInputError) as caught:
            read_score_file(tmp_path / name)
        assert caught.value.problems == [("", EMPTY_FILE)]


def test_a_decision_threshold_that_selects_every_row_is_warned_naming_the_scale():
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(6172)], "decile": [str(1 + i % 10) for i in range(6172)],
                          "race": ["a", "b"] * 3086})  # fmt: skip
    data = from_frame(frame, id_column="id", score_column="decile", attributes=[AttributeSpec("race")],
                      score_max=10, decision_threshold=0.45)  # fmt: skip
    assert data.warnings == (
        "the decision threshold 0.45 selects all 6,172 rows on a 0-10 scale: did you mean 4.5? "
        "(selection rates, TPR and FPR then cannot differ between groups)",
    )
    assert audit(data, spec_for("race"))["warnings"] == list(data.warnings)


def test_the_trend_weighs_each_group_by_its_size():
    order = ("1", "2", "3")
    codes = GroupCodes(np.repeat(np.arange(3), (3000, 3000, 31)).astype(np.int32), order)
    scores = np.r_[np.full(3000, 0.4), np.full(3000, 0.5), np.full(31, 0.9)] + np.linspace(0, 1e-3, 6031)
    data = AuditData(np.array([f"k{i}" for i in range(6031)], dtype=object), scores, scores >= 0.5, {"tone": codes})
    trend = audit(data, spec_for(AttributeSpec("tone", order=order)))["attributes"]["tone"]["trend"]
    means = [scores[:3000].mean(), scores[3000:6000].mean(), scores[6000:].mean()]
    weighted = np.polyfit([0, 1, 2], means, 1, w=np.sqrt([3000, 3000, 31]))[0]
    assert trend["slope"] == pytest.approx(weighted, abs=1e-9)
    assert abs(trend["slope"] - np.polyfit([0, 1, 2], means, 1)[0]) > 0.01


def test_a_replicate_without_a_rates_denominator_stays_undefined_on_the_log_scale():
    from audit.fairness.contrasts import transformed
    from audit.fairness.measures import Measure

    numerator = np.array([[0.0, 0.0, 0.0], [5.0, 4.0, 6.0]])
    denominator = np.array([[40.0, 0.0, 38.0], [50.0, 47.0, 52.0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        measure = Measure(numerator / denominator, denominator, numerator)
    values, _ = transformed(measure, log=True)
    assert np.isnan(values[0, 1])  # no denominator in that replicate: undefined, not infinite
    assert values[0, 0] == pytest.approx(np.log(0.5 / 40))  # a rate of 0 counts as half an item


def test_a_ratio_whose_every_rate_is_zero_is_undefined_not_judged_on_its_other_part():
    data = make_audit_data({"race": ("a", "b")}, n=2000, labels=True, seed=10)
    selected = data.selected & (data.labels == 1)  # nobody without the label is selected: every FPR is 0
    data = AuditData(data.keys, data.scores, selected, data.attributes, labels=data.labels)
    gaps = audit(data, spec_for("race", metrics=("equalized_odds_ratio",)))["attributes"]["race"]["gaps"]
    assert gaps["false_positive_rate_ratio"]["value"] is None
    assert gaps["equalized_odds_ratio"]["value"] is None
    assert gaps["equalized_odds_ratio"]["verdict"] == VERDICT_INSUFFICIENT
