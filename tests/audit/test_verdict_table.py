"""The verdict table of `run_audit --wait` and `audit_file`: the audit verdict first, ratios against the ratio
threshold, the error control last."""

import numpy as np
import pandas as pd
import pytest

from audit.fairness import AttributeSpec, AuditSpec, evidence_for, from_frame
from audit.fairness.results import RunVerdict
from audit.verdict_table import run_verdict_line, verdict_lines, warning_lines


@pytest.fixture(scope="module")
def evidence():
    """Two groups a clear 0.2 apart in mean score (group b selected twice as often), three bands alike."""
    rng = np.random.default_rng(4)
    n = 1200
    group = np.where(np.arange(n) % 2, "b", "a")
    band = np.array(["young", "mid", "old"])[np.arange(n) % 3]
    scores = np.clip(0.4 + 0.2 * (group == "b") + rng.normal(0, 0.1, n), 0, 1)
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(n)], "score": scores, "group": group, "band": band})
    attributes = (AttributeSpec("group"), AttributeSpec("band"))
    data = from_frame(frame, id_column="id", score_column="score", attributes=attributes, decision_threshold=0.5)
    spec = AuditSpec(attributes=attributes, replicates=200, metrics=("mean_score_gap", "disparate_impact_ratio"),
                     intersections=False)  # fmt: skip
    return evidence_for(data, spec, source={"kind": "test"})


def test_the_first_line_is_the_audit_verdict_with_how_many_judged_gaps_fail(evidence):
    lines = verdict_lines(evidence)
    counts = evidence["verdict"]["counts"]
    judged = counts["pass"] + counts["fail"] + counts["inconclusive"]
    assert lines[0].startswith(f"Audit verdict: FAIL ({counts['fail']} of {judged} judged fail")
    assert lines[1] == "" and lines[2].split() == ["grouping", "metric", "value", "interval", "threshold", "verdict"]


def test_a_ratio_verdict_shows_the_ratio_threshold_in_the_threshold_column(evidence):
    lines = verdict_lines(evidence)
    (row,) = [line for line in lines if line.startswith("group ") and "disparate_impact_ratio" in line]
    value, low, high, threshold, verdict = row.split()[2:7]
    assert threshold == "0.8000" and verdict == "FAIL"
    assert float(low.strip("[,")) <= float(value) <= float(high.strip("]"))
    headline = next(line for line in lines if line.startswith("group ") and "mean_score_gap" in line)
    assert headline.split()[5] == "0.0500"
    assert any("ratios (lowest group over the highest) pass over theirs" in line for line in lines)


def test_the_table_ends_with_the_error_control_across_the_runs_verdicts(evidence):
    assert verdict_lines(evidence)[-1] == f"Error control: {evidence['verdict']['error_control']}"


def test_warnings_are_lines_of_their_own(evidence):
    assert warning_lines({**evidence, "warnings": ["the decision threshold selects all rows"]}) == [
        "Warning: the decision threshold selects all rows"
    ]
    assert warning_lines(evidence) == []


def run_verdict(verdict, *, passed=0, failed=0, inconclusive=0, not_judged=()):
    counts = {"pass": passed, "fail": failed, "inconclusive": inconclusive, "insufficient": len(not_judged)}
    return RunVerdict(verdict, counts, (), (), tuple(not_judged), "stated")


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (run_verdict("fail", passed=4, failed=2, inconclusive=1),
         "Audit verdict: FAIL (2 of 7 judged fail, 1 inconclusive, 4 pass)"),
        (run_verdict("inconclusive", passed=2, inconclusive=1),
         "Audit verdict: INCONCLUSIVE (1 of 3 judged inconclusive, 2 pass)"),
        (run_verdict("pass", passed=3, not_judged=["sex & age: mean_score_gap"]),
         "Audit verdict: PASS (all 3 judged pass; 1 not judged: too few items)"),
        (run_verdict("insufficient", not_judged=["sex: mean_score_gap"]),
         "Audit verdict: INSUFFICIENT (nothing could be judged; 1 not judged: too few items)"),
    ],
)  # fmt: skip
def test_the_audit_verdict_line_says_what_the_verdict_rests_on(verdict, expected):
    assert run_verdict_line(verdict) == expected
