"""The report pages, for every role: list and generate, a report with its findings, review, approval, the PDF,
and verifying an uploaded file."""

import re
from html import unescape

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from consent import services as consent_services
from core.audit_log import Actor
from reports import services
from reports.models import FindingComment, Report
from tests.reports import shared_run
from tests.reports.shared_run import QUARTER

pytestmark = pytest.mark.django_db
quarter_run, shared_files = shared_run.quarter_run, shared_run.shared_files  # one run and report for the module

REPORT = "BR-2026-Q4-0001"
FINDING = "skin_tone:monk_3 / mean_score_gap"
FINDING_ID = "finding-skin-tone-monk-3-mean-score-gap"
ROLES = ["officer", "auditor", "steward", "nobody", None]
READERS = {"officer", "auditor"}


def expected(role, allowed: set, success: int) -> int:
    if role is None:
        return 302
    return success if role in allowed else 403


def assert_refused(response, role):
    """A refused page: signed out goes to sign-in; signed in without the role gets a 403 with no report data."""
    if role is None:
        assert response["Location"].startswith("/sign-in/?next=")
    else:
        assert response.status_code == 403
        assert REPORT not in response.content.decode()
        assert "skin_tone" not in response.content.decode()


def upload(data: bytes, name: str = "report.pdf") -> dict:
    return {"file": SimpleUploadedFile(name, data, content_type="application/pdf")}


def messages_of(response) -> str:
    """The flash messages on the page a step ended on."""
    found = re.findall(r'<p class="flash flash-\w+" role="status">(.*?)</p>', response.content.decode(), re.DOTALL)
    return " ".join(unescape(text) for text in found)


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# Who may open what -------------------------------------------------------------------------------

PAGES = [
    "/reports/",
    f"/reports/{REPORT}/",
    f"/reports/{REPORT}/pdf/",
    f"/reports/{REPORT}/download/",
    "/reports/verify/",
]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_only_officers_and_auditors_open_the_report_pages(client_as, url, role):
    response = client_as(role).get(url)
    assert response.status_code == expected(role, READERS, 200)
    if response.status_code != 200:
        assert_refused(response, role)
    elif url.endswith(("/pdf/", "/download/")):
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
    else:
        assert "<h1" in response.content.decode()


POSTS = {
    "generate": ("/reports/generate/", {"quarter": QUARTER, "model": ""}, {"officer"}),
    "comment": (f"/reports/{REPORT}/comments/", {"finding": FINDING, "text": "Checked the CI."}, {"auditor"}),
    "review": (f"/reports/{REPORT}/review/", {"comment": ""}, {"auditor"}),
    "approve": (f"/reports/{REPORT}/approve/", {"comment": ""}, {"officer"}),
    "return-to-draft": (f"/reports/{REPORT}/return-to-draft/", {"comment": "Redo"}, {"officer"}),
}


@pytest.mark.parametrize("action", list(POSTS))
@pytest.mark.parametrize("role", ROLES)
def test_each_step_is_open_only_to_the_role_that_takes_it(client_as, quarter_run, action, role):
    url, data, allowed = POSTS[action]
    before = (Report.objects.count(), FindingComment.objects.count(), Report.objects.get(report_id=REPORT).status)
    response = client_as(role).post(url, data)
    assert response.status_code == expected(role, allowed, 302)
    if response.status_code == 302 and role is not None:
        assert response["Location"].startswith("/reports/")
    else:
        assert_refused(response, role)
        after = (Report.objects.count(), FindingComment.objects.count(), Report.objects.get(report_id=REPORT).status)
        assert after == before


@pytest.mark.parametrize("role", ROLES)
def test_every_reader_may_verify_a_file_and_no_one_else(client_as, quarter_run, role):
    data = services.report_file(quarter_run.report).read_bytes()
    response = client_as(role).post("/reports/verify/", upload(data))
    assert response.status_code == expected(role, READERS, 200)
    if response.status_code == 200:
        assert 'id="verify-result"' in response.content.decode()
    else:
        assert_refused(response, role)


def test_the_menu_shows_reports_to_readers_only(client_as):
    assert 'href="/reports/"' in page(client_as("auditor"), "/")
    assert 'href="/reports/"' not in page(client_as("steward"), "/")


def test_an_unknown_report_is_not_found(client_as):
    assert client_as("officer").get("/reports/BR-2026-Q4-9999/").status_code == 404


# List and generate -------------------------------------------------------------------------------


def test_the_list_shows_each_report_with_its_quarter_status_and_author(client_as):
    html = page(client_as("auditor"), "/reports/")
    row = re.search(rf'<tr id="report-{REPORT}">.*?</tr>', html, re.DOTALL).group(0)
    assert QUARTER in row and "all models" in row and 'data-status="draft"' in row and "by test" in row
    assert 'id="generate-form"' not in html  # auditors do not generate


def test_the_generate_form_proposes_the_last_audited_quarter(client_as):
    html = page(client_as("officer"), "/reports/")
    assert re.search(rf'<input[^>]*name="quarter"[^>]*value="{QUARTER}"', html)
    assert "demo-tabular-mlp" in html  # the model choice


def test_an_officer_generates_a_report_for_one_model_and_lands_on_it(client_as, quarter_run):
    model = quarter_run.run.model_version
    response = client_as("officer").post("/reports/generate/", {"quarter": QUARTER, "model": model.pk}, follow=True)
    report = Report.objects.get(report_id="BR-2026-Q4-0002")
    assert report.model_version == model and report.created_by.username == "web-officer"
    assert response.redirect_chain[-1][0] == "/reports/BR-2026-Q4-0002/"
    assert "generated as a draft" in messages_of(response)


@pytest.mark.parametrize(
    ("quarter", "message"),
    [("2026-Q9", "is not a reporting quarter like 2026-Q4"), ("2025-Q1", "no succeeded audit run for 2025-Q1")],
)
def test_a_quarter_without_a_run_is_refused_at_the_quarter_field(client_as, quarter, message):
    response = client_as("officer").post("/reports/generate/", {"quarter": quarter, "model": ""})
    assert response.status_code == 200
    field = re.search(r'<div class="field has-error">.*?</div>', response.content.decode(), re.DOTALL).group(0)
    assert 'name="quarter"' in field and message in field
    assert Report.objects.count() == 1


# One report --------------------------------------------------------------------------------------


def test_a_report_page_shows_status_history_and_one_finding_per_attribute(client_as, quarter_run):
    html = page(client_as("officer"), f"/reports/{REPORT}/")
    assert 'id="report-status" data-status="draft"' in html
    assert re.search(r'<table id="report-history">.*?draft.*?test', html, re.DOTALL)
    for attribute in quarter_run.run.evidence["attributes"]:
        key = f"{attribute} / mean_score_gap"
        assert f'data-finding="{key}"' in html
    assert f'id="{FINDING_ID}"' in html
    assert 'id="comment-form-' not in html  # only auditors comment
    assert 'id="review-form"' not in html and 'id="approve-form"' not in html
    assert 'id="download-pdf"' in html and "Download draft PDF" in html


def test_an_auditor_sees_a_comment_form_per_finding_and_the_review_form(client_as, quarter_run):
    html = page(client_as("auditor"), f"/reports/{REPORT}/")
    assert html.count('class="comment-form"') == len(quarter_run.run.evidence["attributes"])
    assert 'id="review-form"' in html and 'id="approve-form"' not in html


def test_an_auditors_comment_appears_in_place_over_htmx(client_as):
    response = client_as("auditor").post(
        f"/reports/{REPORT}/comments/", {"finding": FINDING, "text": "Interval checked <b>by hand</b>."},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.strip().startswith('<div class="comments" id="comments-skin-tone-monk-3-mean-score-gap">')
    assert "Interval checked &lt;b&gt;by hand&lt;/b&gt;." in html and "web-auditor" in html
    assert FindingComment.objects.get().finding == FINDING


def test_an_empty_comment_is_refused_at_the_text_field_and_nothing_is_saved(client_as):
    response = client_as("auditor").post(
        f"/reports/{REPORT}/comments/", {"finding": FINDING, "text": "   "}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'class="field has-error"' in response.content.decode()
    assert "Write what you found." in response.content.decode()
    assert FindingComment.objects.count() == 0


def test_a_comment_on_a_finding_the_report_does_not_have_is_refused(client_as):
    response = client_as("auditor").post(f"/reports/{REPORT}/comments/", {"finding": "height / x", "text": "hm"})
    assert response.status_code == 400
    assert FindingComment.objects.count() == 0


def test_a_comment_without_htmx_returns_to_the_finding(client_as):
    response = client_as("auditor").post(f"/reports/{REPORT}/comments/", {"finding": FINDING, "text": "Fine."})
    assert response["Location"] == f"/reports/{REPORT}/#{FINDING_ID}"
    html = page(client_as("officer"), f"/reports/{REPORT}/")
    assert "Fine." in html


def test_the_officer_cannot_approve_a_draft_and_is_told_why(client_as):
    response = client_as("officer").post(f"/reports/{REPORT}/approve/", {"comment": ""}, follow=True)
    assert "cannot go from draft to approved" in messages_of(response)
    assert Report.objects.get(report_id=REPORT).status == Report.Status.DRAFT


def test_the_reviewer_may_not_approve_the_report_they_reviewed(client, role_user, django_user_model):
    both = django_user_model.objects.create_user("dual")
    both.groups.add(Group.objects.get(name="Auditor"), Group.objects.get(name="Compliance officer"))
    client.force_login(both)
    client.post(f"/reports/{REPORT}/review/", {"comment": "ok"})
    html = page(client, f"/reports/{REPORT}/")
    assert "You reviewed this report: another compliance officer must approve it." in html
    response = client.post(f"/reports/{REPORT}/approve/", {"comment": ""}, follow=True)
    assert "Refused: user:dual reviewed BR-2026-Q4-0001; another person must approve it." in messages_of(response)
    assert Report.objects.get(report_id=REPORT).status == Report.Status.REVIEWED


def test_a_missing_signing_key_tells_the_officer_to_create_one(client_as, settings, tmp_path):
    client_as("auditor").post(f"/reports/{REPORT}/review/", {"comment": ""})
    settings.REPORT_SIGNING_KEY = tmp_path / "absent" / "key.pem"
    response = client_as("officer").post(f"/reports/{REPORT}/approve/", {"comment": ""}, follow=True)
    assert "run `manage.py create_signing_key`" in messages_of(response)
    assert Report.objects.get(report_id=REPORT).status == Report.Status.REVIEWED


def test_an_officer_returns_a_reviewed_report_to_draft_with_a_reason(client_as):
    client_as("auditor").post(f"/reports/{REPORT}/review/", {"comment": ""})
    officer = client_as("officer")
    response = officer.post(f"/reports/{REPORT}/return-to-draft/", {"comment": "  "}, follow=True)
    assert "Why it goes back: Say why the report goes back to draft." in messages_of(response)
    officer.post(f"/reports/{REPORT}/return-to-draft/", {"comment": "Add the Q3 comparison."})
    report = Report.objects.get(report_id=REPORT)
    assert report.status == Report.Status.DRAFT
    assert "Add the Q3 comparison." in page(officer, f"/reports/{REPORT}/")


def test_the_pdf_is_shown_inline_and_downloaded_as_an_attachment(client_as, quarter_run):
    client = client_as("auditor")
    inline, download = client.get(f"/reports/{REPORT}/pdf/"), client.get(f"/reports/{REPORT}/download/")
    assert inline["Content-Disposition"] == f'inline; filename="{REPORT}-draft.pdf"'
    assert inline["X-Frame-Options"] == "SAMEORIGIN"  # the report page embeds it
    assert download["Content-Disposition"] == f'attachment; filename="{REPORT}-draft.pdf"'
    assert download.content == services.report_file(quarter_run.report).read_bytes()


def test_a_stored_file_that_changed_is_not_served(client_as, quarter_run):
    path = services.report_file(quarter_run.report)
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"%")
        response = client_as("auditor").get(f"/reports/{REPORT}/download/", follow=True)
        assert "does not match its recorded SHA-256" in messages_of(response)
        assert response["Content-Type"].startswith("text/html")
    finally:
        path.write_bytes(original)


def test_an_approved_report_shows_a_warning_when_audited_people_withdrew_later(client_as, quarter_run):
    officer, auditor = Actor.system("officer"), Actor.system("auditor")
    report = services.review_report(actor=auditor, report=quarter_run.report)
    services.approve_report(actor=officer, report=report)
    member = quarter_run.run.evaluation_set.members.select_related("item__subject").first()
    consent_services.withdraw_consent(actor=officer, subject=member.item.subject, channel="email")
    services.flag_affected_reports(actor=officer)
    html = page(client_as("auditor"), f"/reports/{REPORT}/")
    assert 'id="report-impacts"' in html and "withdrawn their consent" in html
    assert 'id="comment-form-' not in html  # an approved report takes no more comments


def test_a_comment_on_an_approved_report_is_refused_in_place(client_as, quarter_run):
    report = services.review_report(actor=Actor.system("auditor"), report=quarter_run.report)
    services.approve_report(actor=Actor.system("officer"), report=report)
    response = client_as("auditor").post(
        f"/reports/{REPORT}/comments/", {"finding": FINDING, "text": "Late."}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "is approved; comments belong to the next quarter" in unescape(response.content.decode())
    assert FindingComment.objects.count() == 0
    row = re.search(rf'<tr id="report-{REPORT}">.*?</tr>', page(client_as("officer"), "/reports/"), re.DOTALL)
    assert 'data-status="approved"' in row.group(0) and "by officer" in row.group(0)


# Verify ------------------------------------------------------------------------------------------


def test_a_draft_file_is_recognised_but_not_verified(client_as, quarter_run):
    data = services.report_file(quarter_run.report).read_bytes()
    html = client_as("officer").post("/reports/verify/", upload(data)).content.decode()
    assert 'data-authentic="false"' in html and "Not verified" in html
    assert f"the file is report {REPORT}, but it is draft, not approved" in html


def test_a_file_that_is_not_a_pdf_is_refused_at_the_file_field(client_as):
    html = client_as("auditor").post("/reports/verify/", upload(b"hello", "notes.txt")).content.decode()
    assert "This is not a PDF file." in html and 'id="verify-result"' not in html


def test_a_file_over_the_limit_is_not_read(client_as, monkeypatch):
    monkeypatch.setattr("reports.views.VERIFY_MAX_BYTES", 1000)
    html = client_as("auditor").post("/reports/verify/", upload(b"%PDF-" + b"0" * 2000)).content.decode()
    assert "The file is larger than 25 MB; it was not checked." in html and 'id="verify-result"' not in html


def test_the_verify_page_states_the_limit_and_that_the_file_is_not_kept(client_as):
    html = page(client_as("auditor"), "/reports/verify/")
    assert "A PDF of at most 25 MB. It is checked in memory and not kept." in html


# The whole workflow through the pages ------------------------------------------------------------


def test_officer_generates_auditor_comments_and_reviews_officer_approves_and_the_download_verifies(client_as):
    officer, auditor = client_as("officer"), client_as("auditor")

    response = officer.post("/reports/generate/", {"quarter": QUARTER, "model": ""})
    report_id = "BR-2026-Q4-0002"
    assert response["Location"] == f"/reports/{report_id}/"

    assert report_id in page(auditor, "/")  # awaiting the auditor's review on the dashboard
    auditor.post(
        f"/reports/{report_id}/comments/", {"finding": FINDING, "text": "Gap confirmed; the interval excludes 0.05."},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    response = auditor.post(f"/reports/{report_id}/review/", {"comment": "Figures checked."}, follow=True)
    assert "marked reviewed" in messages_of(response)
    assert 'data-status="reviewed"' in response.content.decode()

    assert report_id in page(officer, "/")  # awaiting the officer's approval
    response = officer.post(f"/reports/{report_id}/approve/", {"comment": "Approved for filing."}, follow=True)
    html = response.content.decode()
    assert "approved and signed" in messages_of(response)
    assert 'id="report-status" data-status="approved"' in html and "Download signed PDF" in html
    history = re.search(r'<table id="report-history">.*?</table>', html, re.DOTALL).group(0)
    assert history.index("web-officer") < history.index("web-auditor") < history.rindex("web-officer")
    assert "Gap confirmed; the interval excludes 0.05." in html

    download = auditor.get(f"/reports/{report_id}/download/")
    assert download["Content-Disposition"] == f'attachment; filename="{report_id}.pdf"'
    signed = download.content
    result = auditor.post("/reports/verify/", upload(signed, f"{report_id}.pdf")).content.decode()
    assert 'data-authentic="true"' in result and f"Authentic: approved report {report_id}" in result
    assert "the signature is intact" in result

    tampered = bytearray(signed)
    tampered[len(tampered) // 2] ^= 0x01
    result = auditor.post("/reports/verify/", upload(bytes(tampered))).content.decode()
    assert 'data-authentic="false"' in result and "Not verified" in result
