import json

import pytest

from audit.fairness import EVIDENCE_SCHEMA, AttributeSpec, AuditSpec, CrossCheckError, evidence_for
from audit.fairness.crosscheck import TOLERANCE
from tests.audit.fairness.synthetic import make_audit_data

SPEC = AuditSpec(
    attributes=(AttributeSpec("race", reference="a"), AttributeSpec("tone", order=("light", "medium", "dark"))),
    replicates=50,
    seed=4,
    min_group_size=30,
    metrics=("mean_score_gap", "equal_opportunity_gap"),
)
SOURCE = {"kind": "file", "name": "scores.csv", "sha256": "0" * 64}


@pytest.fixture(scope="module")
def evidence():
    data = make_audit_data(
        {"race": ("a", "b", "c"), "tone": ("light", "medium", "dark")},
        sizes={"race": (500, 500, 12)}, effects={"tone": (0.0, 0.03, 0.06)}, labels=True, seed=31,
    )  # fmt: skip
    return evidence_for(data, SPEC, source=SOURCE, context={"model": {"name": "demo", "version": "1"}})


def test_the_evidence_has_the_documented_top_level_shape(evidence):
    assert evidence["schema"] == EVIDENCE_SCHEMA == "bias-audit-evidence/1"
    assert evidence["source"] == SOURCE
    assert evidence["model"] == {"name": "demo", "version": "1"}
    assert set(evidence["data"]) == {"items", "labels", "targets", "selected"}
    assert (evidence["data"]["items"], evidence["data"]["labels"], evidence["data"]["targets"]) == (1012, True, False)
    assert 0 < evidence["data"]["selected"] < 1012
    assert set(evidence["intersections"]) == {"race & tone"}
    assert {"numpy", "pandas", "fairlearn", "aif360", "scikit-learn", "scipy"} == set(evidence["software"])


def test_the_policy_block_records_the_bootstrap(evidence):
    policy = evidence["policy"]
    assert policy["bootstrap"]["replicates"] == 50
    assert policy["bootstrap"]["seed"] == 4
    assert policy["bootstrap"]["method"] == "Poisson bootstrap; simultaneous max-|t| bands over every pair of groups"
    assert "intersection-union" in policy["verdict_rule"] and "max-|t|" in policy["error_control"]
    assert "splitmix64" in policy["bootstrap"]["weights"]
    assert policy["threshold"] == 0.05 and policy["confidence"] == 0.95 and policy["min_group_size"] == 30
    assert policy["metrics"] == ["mean_score_gap", "equal_opportunity_gap"]
    assert policy["attributes"][1] == {"name": "tone", "ordinal": True, "order": ["light", "medium", "dark"],
                                       "reference": None}  # fmt: skip


def test_each_group_carries_its_size_mean_score_rates_and_intervals(evidence):
    group = evidence["attributes"]["race"]["groups"]["b"]
    assert group["n"] == 500 and group["sufficient"] is True
    for measure in ("mean_score", "selection_rate", "tpr", "fpr", "fnr"):
        lo, hi = group[f"{measure}_ci"]
        assert lo <= group[measure] <= hi
    assert evidence["attributes"]["race"]["groups"]["c"]["sufficient"] is False
    assert evidence["attributes"]["race"]["insufficient_groups"] == ["c"]
    assert evidence["attributes"]["race"]["reference"] == "a"


def test_each_attribute_carries_its_mean_score_gap_and_verdict(evidence):
    gap = evidence["attributes"]["race"]["mean_score_gap"]
    assert set(gap) >= {"value", "ci", "verdict", "threshold", "n_needed", "highest", "lowest"}
    assert gap["verdict"] in {"pass", "fail", "inconclusive"}
    assert len(gap["ci"]) == 2
    assert evidence["attributes"]["tone"]["trend"]["slope"] > 0
    assert {(v["grouping"], v["metric"]) for v in evidence["verdicts"]} == {
        (grouping, metric)
        for grouping in ("race", "tone", "race & tone")
        for metric in ("mean_score_gap", "equal_opportunity_gap")
    }


def test_the_evidence_carries_the_cross_check(evidence):
    check = evidence["cross_check"]
    assert check["passed"] is True
    assert check["compared"] > 0 and check["largest_difference"] < TOLERANCE
    assert set(check["libraries"]) == {"fairlearn", "aif360", "scikit-learn", "scipy"}


def test_the_evidence_is_strict_json(evidence):
    text = json.dumps(evidence, allow_nan=False)
    assert json.loads(text) == evidence


def test_the_evidence_is_refused_when_the_libraries_disagree(monkeypatch):
    import audit.fairness.evidence as module

    data = make_audit_data({"race": ("a", "b")}, n=200, seed=32)
    real_audit = module.audit

    def skewed(*args, **kwargs):
        findings = real_audit(*args, **kwargs)
        findings["attributes"]["race"]["groups"]["a"]["selection_rate"] += 0.01
        return findings

    monkeypatch.setattr(module, "audit", skewed)
    with pytest.raises(CrossCheckError, match="Fairlearn gives .* for selection_rate of race = a"):
        evidence_for(data, AuditSpec(attributes=(AttributeSpec("race"),), replicates=10), source=SOURCE)
