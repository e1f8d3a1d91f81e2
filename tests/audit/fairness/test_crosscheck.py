import copy
import re
from importlib.metadata import version

import numpy as np
import pytest

from audit.fairness import AttributeSpec, AuditSpec, CrossCheckError, audit, cross_check
from audit.fairness.crosscheck import TOLERANCE
from tests.audit.fairness.synthetic import make_audit_data, members

SPEC = AuditSpec(
    attributes=(AttributeSpec("race"), AttributeSpec("sex")),
    replicates=20,
    min_group_size=30,
    metrics=("mean_score_gap", "equalized_odds_difference", "mean_absolute_error_gap"),
)


@pytest.fixture(scope="module")
def audited():
    data = make_audit_data(
        {"race": ("a", "b", "c"), "sex": ("f", "m")}, n=1500, effects={"race": (0.0, 0.04, 0.1)},
        labels=True, targets=True, seed=21,
    )  # fmt: skip
    return data, audit(data, SPEC)


def test_the_cross_check_agrees_with_fairlearn_and_aif360_on_consistent_data(audited):
    data, findings = audited
    report = cross_check(data, findings)

    assert report["passed"] is True and report["disagreements"] == []
    assert report["compared"] > 100
    assert report["largest_difference"] < 1e-9
    assert report["tolerance"] == TOLERANCE == 1e-9
    assert report["libraries"] == {name: version(name) for name in ("fairlearn", "aif360", "scikit-learn", "scipy")}


def test_a_tampered_figure_fails_the_cross_check_showing_both_values(audited):
    data, findings = audited
    tampered = copy.deepcopy(findings)
    truth = data.scores[members(data, "race", "b")].mean()
    tampered["attributes"]["race"]["groups"]["b"]["mean_score"] += 1e-6
    ours = tampered["attributes"]["race"]["groups"]["b"]["mean_score"]

    with pytest.raises(CrossCheckError) as caught:
        cross_check(data, tampered)

    assert len(caught.value.disagreements) == 1
    message = str(caught.value)
    found = re.fullmatch(
        r"the cross-check disagrees: Fairlearn gives (\S+) for mean_score of race = b, the engine (\S+) "
        r"\(difference 1e-06, tolerance 1e-09\)",
        message,
    )
    assert found, message
    assert float(found[1]) == pytest.approx(truth, abs=1e-12)
    assert float(found[2]) == ours
    report = caught.value.report
    assert report["passed"] is False and report["largest_difference"] == pytest.approx(1e-6, rel=1e-3)
    assert report["largest_difference_at"] == "Fairlearn: mean_score of race = b"


def test_a_tampered_comparison_with_the_reference_fails_against_aif360(audited):
    data, findings = audited
    tampered = copy.deepcopy(findings)
    section = tampered["intersections"]["race & sex"]
    label = next(iter(section["versus_reference"]))
    section["versus_reference"][label]["statistical_parity_difference"]["value"] += 1e-6

    with pytest.raises(CrossCheckError, match=rf"AIF360 gives .* for statistical_parity_difference of race & sex = "
                                              rf"{label} against {section['reference']}, the engine"):  # fmt: skip
        cross_check(data, tampered)


def test_undefined_figures_are_not_compared():
    # Group "b" has no positive labels: its TPR is undefined for the engine and left out.
    data = make_audit_data({"race": ("a", "b")}, sizes={"race": (200, 50)}, labels=True, seed=22)
    labels = data.labels.copy()
    labels[members(data, "race", "b")] = 0
    data = type(data)(data.keys, data.scores, data.selected, data.attributes, labels=labels)
    findings = audit(data, AuditSpec(attributes=(AttributeSpec("race"),), replicates=10))
    assert findings["attributes"]["race"]["groups"]["b"]["tpr"] is None
    assert np.isfinite(findings["attributes"]["race"]["groups"]["a"]["tpr"])
    assert cross_check(data, findings)["passed"] is True
