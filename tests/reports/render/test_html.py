"""`render_html`: the context becomes one escaped HTML page, and a missing figure names itself."""

import pytest

from reports.render import RenderError, render_html
from tests.reports.render.sample_context import sample_context

MALICIOUS = '<script>alert("x")</script>'


def test_it_renders_the_sample_context_with_every_section_and_six_kinds_of_figure():
    html = render_html(sample_context())
    for anchor in ("summary", "attributes", "intersections", "trend", "governance", "methodology", "signoff"):
        assert f'id="{anchor}"' in html
    assert html.count("<svg ") == 3  # two attributes, one trend chart of two panels


def test_it_escapes_a_malicious_group_name_in_the_tables_and_the_charts():
    context = sample_context()
    context["runs"][0]["attributes"][0]["groups"][0]["name"] = MALICIOUS
    context["runs"][0]["intersections"]["too_small"][0]["group"] = MALICIOUS
    context["organisation"]["name"] = MALICIOUS
    html = render_html(context)
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_a_missing_figure_raises_an_error_that_names_the_key_and_where():
    context = sample_context()
    del context["runs"][0]["attributes"][0]["gap"]["threshold"]
    with pytest.raises(RenderError) as caught:
        render_html(context)
    assert str(caught.value) == "the report context has no 'threshold' (in runs[0].attributes[0].gap)"


def test_a_missing_figure_read_by_the_template_names_its_path():
    context = sample_context()
    del context["runs"][0]["attributes"][1]["groups"][0]["tpr"]
    with pytest.raises(
        RenderError, match=r"^the report context has no 'tpr' \(in runs\[0\]\.attributes\[1\]\.groups\[0\]\)$"
    ):
        render_html(context)


def test_a_missing_top_level_section_is_named():
    context = sample_context()
    del context["threshold_note"]
    with pytest.raises(RenderError, match=r"^the report context has no 'threshold_note'$"):
        render_html(context)


def test_a_missing_governance_figure_is_named():
    context = sample_context()
    del context["governance"]["evaluation_sets"][0]["provenance"][1]["items"]
    with pytest.raises(RenderError, match=r"no 'items' \(in governance\.evaluation_sets\[0\]\.provenance\[1\]\)"):
        render_html(context)


def test_a_context_that_is_not_a_dict_is_refused():
    with pytest.raises(RenderError, match="the report context is not a dict: got list"):
        render_html([])


def test_a_malformed_figure_raises_a_render_error():
    context = sample_context()
    context["runs"][0]["attributes"][0]["groups"][0]["n"] = "many"
    with pytest.raises(RenderError, match="malformed figure"):
        render_html(context)


def test_figures_that_are_none_print_as_a_dash():
    context = sample_context()
    context["summary"][0].update(value=None, ci=[None, None], verdict="")
    html = render_html(context)
    assert "\u2014" in html
    assert "Not judged" in html


def test_error_rates_are_left_out_when_the_run_has_no_labels():
    context = sample_context()
    context["runs"][0]["labels"] = False
    html = render_html(context)
    assert ">TPR<" not in html
    assert "No ground-truth labels" in html


def test_it_says_so_when_there_is_no_evaluation_set_trend_or_comment():
    context = sample_context()
    context["governance"] = {"evaluation_sets": [], "withdrawn_since_approval": []}
    context["trend"] = []
    context["findings_comments"] = []
    html = render_html(context)
    assert "No registry evaluation set" in html
    assert "No trend" in html
    assert "No comments." in html


def test_verdicts_carry_badges_of_their_colour_class():
    html = render_html(sample_context())
    assert '<span class="badge fail">Fail</span>' in html
    assert '<span class="badge inconclusive">Inconclusive</span>' in html


def test_it_does_not_change_the_context_it_is_given():
    context = sample_context()
    render_html(context)
    assert context == sample_context()


def summary_of(html: str) -> str:
    return " ".join(html[html.index('id="summary"') : html.index('id="attributes"')].split())


def methodology_of(html: str) -> str:
    return " ".join(html[html.index('id="methodology"') : html.index('id="signoff"')].split())


def test_the_summary_shows_each_runs_audit_verdict_and_what_it_rests_on():
    summary = summary_of(render_html(sample_context()))
    verdicts = summary[summary.index('class="figures run-verdicts"') :].split("</table>")[0]
    assert "demo-face-scorer 2026.4 on demo-2026-Q4" in verdicts and '<span class="badge fail">Fail</span>' in verdicts
    assert "2 fail, 1 inconclusive, 0 pass" in verdicts and "of 3 judged gaps and ratios" in verdicts
    assert "Failing: skin_tone:monk_3: mean_score_gap; skin_tone:monk_3 &amp; sex: mean_score_gap" in verdicts


def test_a_ratio_verdict_is_a_summary_line_with_the_ratio_threshold():
    context = sample_context()
    context["summary"].append(
        {"model": "demo-face-scorer 2026.4", "attribute": "sex", "metric": "disparate_impact_ratio", "value": 0.8998,
         "ci": [0.8512, 0.9511], "threshold": 0.8, "verdict": "pass", "n_needed": None, "scale": "ratio"}
    )  # fmt: skip
    summary = summary_of(render_html(context))
    assert "3 verdicts on 2 audited attributes across 1 audit run: 1 fail, 1 inconclusive, 1 pass." in summary
    line = summary[summary.index("disparate_impact_ratio") :].split("</tr>")[0]
    assert "0.8998" in line and "0.80" in line and "Pass" in line and "ratio: passes above" in line


def test_the_methodology_describes_the_construction_in_plain_words_then_the_rule_and_the_error_control():
    methodology = methodology_of(render_html(sample_context()))
    plain = methodology.index("A gap is judged by comparing every pair of groups.")
    assert plain < methodology.index("the signed difference d gets a standard error")
    assert "Error control across the verdicts of a run" in methodology
    assert "the chance that any FAIL in this audit is false is at most 5%" in methodology
    assert "n_needed, given with an inconclusive verdict" in methodology
    assert "ratio threshold 0.80" in methodology


def test_a_context_frozen_before_audit_verdicts_and_ratio_thresholds_still_renders():
    context = sample_context()
    del context["runs"][0]["verdict"], context["runs"][0]["policy"]["ratio_threshold"]
    for key in ("plain", "interval_rule", "n_needed"):
        del context["methodology"][key]
    html = render_html(context)
    assert "run-verdicts" not in html and "Error control across" not in html
    assert "ratio threshold 0.80" not in methodology_of(html)
