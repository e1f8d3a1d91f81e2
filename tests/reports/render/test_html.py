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
