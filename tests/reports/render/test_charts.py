"""The charts: valid, deterministic SVG that can be inlined in the report's HTML."""

import re
import xml.etree.ElementTree as ET

from reports.render.charts import group_chart, trend_chart
from tests.reports.render.sample_context import sample_context

SVG = "{http://www.w3.org/2000/svg}svg"


def parse(svg: str):
    """Our own output, parsed to prove it is well-formed XML."""
    return ET.fromstring(svg)  # noqa: S314 - not untrusted input


def attribute(index=0):
    return sample_context()["runs"][0]["attributes"][index]


def test_the_group_chart_is_a_valid_svg_without_prolog_or_doctype():
    svg = group_chart(attribute(), confidence=0.95, chart_id="g0-0")
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert parse(svg).tag == SVG


def test_the_trend_chart_is_a_valid_svg_without_prolog_or_doctype():
    svg = trend_chart(sample_context()["trend"], chart_id="t0-0")
    assert svg.startswith("<svg")
    assert parse(svg).tag == SVG


def test_the_same_input_gives_the_same_svg():
    assert group_chart(attribute(), confidence=0.95) == group_chart(attribute(), confidence=0.95)
    trend = sample_context()["trend"]
    assert trend_chart(trend) == trend_chart(sample_context()["trend"])


def test_the_svg_carries_no_date_or_creator():
    svg = group_chart(attribute(), confidence=0.95)
    assert "<metadata" not in svg and "dc:date" not in svg and "Matplotlib v" not in svg


def test_every_id_carries_the_chart_prefix_so_that_charts_can_share_a_page():
    svg = group_chart(attribute(), confidence=0.95, chart_id="g0-1")
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and all(i.startswith("g0-1-") for i in ids)
    references = re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', svg)
    assert all(ref.startswith("g0-1-") for pair in references for ref in pair if ref)


def test_the_group_chart_names_every_group_and_marks_the_reference_and_the_threshold_band():
    svg = group_chart(attribute(), confidence=0.95)
    for name in ("light (ref.)", "medium", "dark"):
        assert name in svg
    assert "lowest judged mean + 0.05 (provider-chosen)" in svg
    assert "95% interval" in svg


def test_each_groups_interval_is_drawn_as_a_bar_as_long_as_the_interval():
    groups = attribute()["groups"]
    svg = group_chart(attribute(), confidence=0.95, chart_id="g")
    bars = parse(svg).find(".//{http://www.w3.org/2000/svg}g[@id='g-intervals']")
    segments = [
        [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.get("d"))]
        for path in bars.iter("{http://www.w3.org/2000/svg}path")
    ]
    assert len(segments) == len(groups)
    lengths = [abs(x2 - x1) for x1, _, x2, _ in segments]
    widths = [g["mean_score_ci"][1] - g["mean_score_ci"][0] for g in groups]
    scale = lengths[0] / widths[0]
    assert all(abs(length - width * scale) < 0.5 for length, width in zip(lengths, widths, strict=True))


def test_a_group_too_small_to_judge_is_drawn_hollow():
    svg = group_chart(attribute(1), confidence=0.95)
    assert "intersex" in svg
    assert "fill: #ffffff; stroke: #8c959f" in svg


def test_group_names_are_escaped_and_not_read_as_mathematics():
    data = attribute()
    data["groups"][0]["name"] = "<b>$x^2$ & co</b>"
    svg = group_chart(data, confidence=0.95)
    assert "&lt;b&gt;$x^2$ &amp; co&lt;/b&gt;" in svg
    parse(svg)


def test_a_quarter_without_a_run_is_marked_on_the_trend_chart():
    svg = trend_chart(sample_context()["trend"])
    assert "no run" in svg
    assert "threshold 0.05 (provider-chosen)" in svg


def test_a_chart_without_judged_groups_has_no_threshold_band():
    data = attribute()
    for group in data["groups"]:
        group["sufficient"] = False
    svg = group_chart(data, confidence=0.95)
    assert "threshold band" not in svg
    parse(svg)
