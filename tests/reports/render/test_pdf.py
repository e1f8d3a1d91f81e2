"""`render_pdf`: the quarterly report as PDF/A-3b, its figures readable, the evidence inside."""

import json
import xml.etree.ElementTree as ET
from io import BytesIO

import pytest
from pypdf import PdfReader

from reports.render import RenderError, render_pdf
from tests.reports.render.sample_context import EVIDENCE, evidence_bytes, sample_context

SECTIONS = [
    "Summary",
    "Results by attribute",
    "Intersections",
    "Trend over four quarters",
    "Data governance",
    "Methodology and reproducibility",
    "Sign-off",
]
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def test_it_shows_every_section_heading_in_order(text):
    position = 0
    for heading in SECTIONS:
        found = text.find(heading, position)
        assert found >= 0, f"{heading!r} missing after position {position}"
        position = found + len(heading)


def test_the_summary_shows_each_gap_with_its_interval_threshold_and_verdict(text):
    assert "0.1079 [0.0800, 0.1363] 0.05 FAIL" in text
    assert "0.0418 [0.0258, 0.0583] 0.05 INCONCLUSIVE" in text
    assert "needs ~5,702 per group" in text
    assert "provider-chosen" in text


def test_the_group_tables_show_counts_means_and_error_rates(text):
    assert "light (reference) 1,204 0.4612 [0.4521, 0.4703] 0.412 0.801 0.104 0.199" in text
    assert "intersex" in text and "26" in text and "shown, not judged" in text
    assert "TPR" in text and "FPR" in text and "FNR" in text


def test_the_intersections_show_the_largest_gap_and_the_groups_too_small(text):
    assert "skin_tone:monk_3 & sex 0.1116 [0.0937, 0.1621] dark & male light & female FAIL" in text
    assert "dark & intersex 7" in text


def test_the_trend_shows_each_quarter_and_the_quarter_without_a_run(text):
    assert "2026-Q1" in text and "no run" in text
    assert "0.1342 [0.1101, 0.1590]" in text


def test_the_governance_section_shows_coverage_exclusions_provenance_and_strata(text):
    assert "98.7%" in text
    assert "consent withdrawn 21" in text
    assert "Studio capture 2025 LicenseRef-Consented-Research owned 2,410" in text
    assert "dark | male 845 776 590" in text
    assert "BR-2026-Q3-0001 2026-Q3 14" in text


def test_the_methodology_shows_hashes_seeds_versions_and_the_cross_check(text):
    context = sample_context()
    run = context["runs"][0]
    compact = text.replace(" ", "")
    for digest in (
        run["model"]["sha256"],
        run["evaluation_set"]["manifest_sha256"],
        run["score_artifact_sha256"],
        run["evidence_sha256"],
    ):
        assert digest in compact
    assert "0.1.0+git.abc1234" in text
    assert "20261" in text
    assert "aif360 0.6.1, fairlearn 0.15.0 412 9.6e-11 1e-09 PASS" in text


def test_the_signoff_shows_who_signed_when_and_the_auditor_comments(text):
    assert "Reviewed arthur Auditor 26 Nov 2026, 14:30 UTC" in text
    assert "The gap narrows each quarter but is still twice the threshold." in text


def test_every_page_carries_the_report_id_and_page_x_of_y(reader):
    pages = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        words = " ".join(page.extract_text().split())
        assert "BR-2026-Q4-0001" in words
        assert f"Page {number} of {pages}" in words


def test_the_evidence_is_attached_and_reads_back_as_the_json_given(reader):
    assert list(reader.attachments) == ["evidence.json"]
    (attached,) = reader.attachments["evidence.json"]
    assert attached == evidence_bytes()
    assert json.loads(attached) == EVIDENCE


def test_the_attachment_is_an_associated_file_of_the_document_with_a_data_relationship(reader):
    # WeasyPrint 70 lists the one file specification twice in /AF; what counts is which files are listed.
    (filespec,) = {entry.idnum: entry.get_object() for entry in reader.trailer["/Root"]["/AF"]}.values()
    assert filespec["/UF"] == "evidence.json"
    assert filespec["/AFRelationship"] == "/Data"


def test_it_declares_pdf_a_3b_in_its_xmp_metadata(reader):
    xmp = ET.fromstring(reader.trailer["/Root"]["/Metadata"].get_object().get_data())  # noqa: S314 - our own PDF
    declared = [
        (element.get(f"{PDFAID}part"), element.get(f"{PDFAID}conformance"))
        for element in xmp.iter()
        if element.get(f"{PDFAID}part") is not None
    ]
    assert declared == [("3", "B")]
    assert reader.pdf_header == "%PDF-1.7"


def test_it_attaches_every_file_given_even_to_a_report_without_runs():
    context = sample_context()
    context.update(summary=[], runs=[], trend=[], governance={"evaluation_sets": [], "withdrawn_since_approval": []})
    pdf = render_pdf(context, attachments={"evidence.json": b"{}", "notes.txt": b"hello"})
    reader = PdfReader(BytesIO(pdf))
    assert {name: data for name, (data,) in reader.attachments.items()} == {
        "evidence.json": b"{}",
        "notes.txt": b"hello",
    }
    related = {entry.idnum: entry.get_object()["/AFRelationship"] for entry in reader.trailer["/Root"]["/AF"]}
    assert sorted(related.values()) == ["/Data", "/Data"]


def test_it_refuses_an_attachment_that_is_not_bytes():
    with pytest.raises(RenderError, match="attachment 'evidence.json' must be bytes, not str"):
        render_pdf(sample_context(), attachments={"evidence.json": "{}"})


def test_a_missing_figure_fails_the_pdf_before_anything_is_laid_out():
    context = sample_context()
    del context["runs"][0]["attributes"][0]["gap"]["threshold"]
    with pytest.raises(
        RenderError, match=r"the report context has no 'threshold' \(in runs\[0\]\.attributes\[0\]\.gap\)"
    ):
        render_pdf(context, attachments={"evidence.json": evidence_bytes()})
