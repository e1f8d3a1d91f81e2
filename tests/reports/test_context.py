"""`reports.context`: the report reads the evidence through the typed findings; the summary holds each run's
audit verdict and every verdict on an attribute, ratios too; the methodology says how verdicts are built."""

import html

import numpy as np
import pandas as pd
import pytest

from audit.fairness import AttributeSpec, AuditSpec, evidence_for, from_frame
from audit.method import N_NEEDED, PLAIN
from reports.context import file_context
from reports.render import render_html


@pytest.fixture(scope="module")
def evidence():
    """Group b scores 0.2 higher and is selected about twice as often as group a."""
    rng = np.random.default_rng(11)
    n = 1000
    group = np.where(np.arange(n) % 2, "b", "a")
    scores = np.clip(0.4 + 0.2 * (group == "b") + rng.normal(0, 0.1, n), 0, 1)
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(n)], "score": scores, "group": group})
    attributes = (AttributeSpec("group"),)
    data = from_frame(frame, id_column="id", score_column="score", attributes=attributes, decision_threshold=0.5)
    spec = AuditSpec(attributes=attributes, replicates=100, metrics=("disparate_impact_ratio",), ratio_threshold=0.8)
    source = {"kind": "file", "file": "scores.csv", "sha256": "0" * 64, "audited_at": "2026-11-25T10:00:00+00:00"}
    return evidence_for(data, spec, source=source)


@pytest.fixture
def context(evidence, settings):
    return file_context(evidence, report_id="AF-test", quarter="2026-Q4", evidence_sha256="1" * 64)


def test_the_summary_lists_the_headline_first_then_the_ratio_verdict_with_the_ratio_threshold(context, evidence):
    lines = [(line["attribute"], line["metric"]) for line in context["summary"]]
    assert lines == [("group", "mean_score_gap"), ("group", "disparate_impact_ratio")]
    ratio = context["summary"][1]
    stated = evidence["attributes"]["group"]["gaps"]["disparate_impact_ratio"]
    assert (ratio["value"], ratio["threshold"], ratio["scale"], ratio["verdict"]) == (
        stated["value"], 0.8, "ratio", stated["verdict"]
    )


def test_each_run_carries_its_audit_verdict_and_the_policys_ratio_threshold(context, evidence):
    run = context["runs"][0]
    assert {k: v for k, v in run["verdict"].items() if k != "judged"} == evidence["verdict"]
    assert run["verdict"]["judged"] == 2 and run["policy"]["ratio_threshold"] == 0.8


def test_the_methodology_states_the_construction_in_plain_words_and_as_the_evidence_states_it(context, evidence):
    methodology = context["methodology"]
    assert methodology["plain"] == PLAIN and methodology["n_needed"] == N_NEEDED
    assert methodology["interval_rule"] == evidence["policy"]["interval_rule"]
    assert methodology["verdict_rule"] == evidence["policy"]["verdict_rule"]


def test_the_rendered_report_holds_the_audit_verdict_the_method_and_the_error_control(context, evidence):
    page = html.unescape(render_html(context))
    text = " ".join(page.split())
    assert "Audit verdict" in text and 'class="figures run-verdicts"' in text
    assert PLAIN in text and N_NEEDED in text
    assert evidence["policy"]["interval_rule"] in text and evidence["verdict"]["error_control"] in text
    assert "disparate_impact_ratio" in text[text.index('id="summary"') : text.index('id="attributes"')]
