"""Reading stored evidence through the typed findings, including evidence stored before runs had a verdict."""

import numpy as np
import pandas as pd
import pytest

from audit.fairness import AttributeSpec, AuditSpec, evidence_for, from_frame
from audit.method import LEGACY, PLAIN, method_view
from audit.selectors import LEGACY_ERROR_CONTROL, findings_of, gap_view, run_verdict_view


@pytest.fixture(scope="module")
def evidence():
    rng = np.random.default_rng(7)
    n = 900
    group = np.array(["a", "b", "c"])[np.arange(n) % 3]
    scores = np.clip(0.5 + 0.1 * (group == "c") + rng.normal(0, 0.1, n), 0, 1)
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(n)], "score": scores, "group": group})
    attributes = (AttributeSpec("group"),)
    data = from_frame(frame, id_column="id", score_column="score", attributes=attributes, decision_threshold=0.5)
    spec = AuditSpec(attributes=attributes, replicates=100, metrics=("mean_score_gap", "disparate_impact_ratio"))
    return evidence_for(data, spec, source={"kind": "test"})


def test_the_findings_carry_the_runs_own_verdict_as_the_engine_stated_it(evidence):
    findings = findings_of(evidence)
    assert findings.run.to_json() == evidence["verdict"]
    assert run_verdict_view(findings.run)["judged"] == sum(
        evidence["verdict"]["counts"][o] for o in ("pass", "fail", "inconclusive")
    )


def test_evidence_stored_before_runs_had_a_verdict_gets_one_derived_from_its_verdicts(evidence):
    legacy = {key: value for key, value in evidence.items() if key not in ("verdict", "warnings")}
    legacy["verdicts"] = [
        {"grouping": "group", "metric": "mean_score_gap", "value": 0.1, "ci": [0.08, 0.12], "threshold": 0.05,
         "verdict": "fail", "n_needed": None},
        {"grouping": "sex", "metric": "mean_score_gap", "value": 0.01, "ci": [0.0, 0.02], "threshold": 0.05,
         "verdict": "pass", "n_needed": None},
        {"grouping": "group & sex", "metric": "mean_score_gap", "value": None, "ci": [None, None],
         "threshold": 0.05, "verdict": "insufficient", "n_needed": None},
    ]  # fmt: skip
    run = findings_of(legacy).run
    assert (run.verdict, run.failures, run.not_judged) == ("fail", ("group: mean_score_gap",), ("group & sex: mean_score_gap",))
    assert run.counts == {"pass": 1, "fail": 1, "inconclusive": 0, "insufficient": 1}
    assert run.error_control == LEGACY_ERROR_CONTROL
    assert findings_of(legacy).warnings == ()


def test_a_gap_view_has_every_key_whether_judged_or_not(evidence):
    section = findings_of(evidence).attributes["group"]
    judged, unjudged = gap_view(section.gaps["disparate_impact_ratio"]), gap_view(section.gaps["selection_rate_gap"])
    assert judged.keys() == unjudged.keys()
    assert judged["scale"] == "ratio" and judged["threshold"] == 0.8 and judged["verdict"] in ("pass", "fail", "inconclusive")
    assert unjudged["verdict"] is None and unjudged["definition"].startswith("highest selection rate")


def test_the_method_is_in_plain_words_then_the_rule_the_evidence_states(evidence):
    method = method_view(evidence["policy"], evidence["verdict"]["error_control"])
    assert method["plain"] == PLAIN and method["verdicts"] == evidence["policy"]["verdict_rule"]
    assert method["intervals"] == evidence["policy"]["interval_rule"]
    old_policy = {k: v for k, v in evidence["policy"].items() if k not in ("interval_rule", "error_control")}
    assert method_view(old_policy, LEGACY_ERROR_CONTROL)["plain"] == LEGACY
