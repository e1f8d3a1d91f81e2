"""/api/v1/reports/: list, detail, download and verify quarterly reports, for each role.

An audited run and a report generated, reviewed and approved on it are built once for the module, inside a
transaction rolled back when the module ends; each test runs in a savepoint within it.
"""

import hashlib

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from core.audit_log import Actor
from reports import services
from reports.models import Report
from reports.signing import create_signing_key
from tests.audit.test_api import build_audited_world
from tests.conftest import module_file_roots

REPORT = "BR-2026-Q4-0001"


@pytest.fixture(scope="module", autouse=True)
def file_roots(tmp_path_factory):
    with module_file_roots(tmp_path_factory, "reports-api") as root:
        yield root


def member(username: str, role: str) -> Actor:
    user = get_user_model().objects.create_user(username)
    user.groups.add(Group.objects.get(name=role))
    return Actor.of_user(user)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, file_roots):
    with django_db_blocker.unblock(), transaction.atomic():
        audited = build_audited_world()
        create_signing_key(common_name="Test reports", organisation=settings.ORGANISATION_NAME)
        officer, auditor = member("olivia", "Compliance officer"), member("arthur", "Auditor")
        report = services.generate_report(actor=officer, quarter="2026-Q4")
        draft_pdf = services.report_file(report).read_bytes()
        report = services.review_report(actor=auditor, report=report, comment="figures checked")
        report = services.approve_report(actor=officer, report=report)
        yield {**audited, "report": report, "draft_pdf": draft_pdf, "pdf": services.report_file(report).read_bytes()}
        transaction.set_rollback(True)


@pytest.fixture
def approved(world, db) -> Report:
    return world["report"]


@pytest.fixture
def approved_pdf(world, db) -> bytes:
    return world["pdf"]


def upload(data: bytes, name: str = "report.pdf") -> dict:
    return {"file": SimpleUploadedFile(name, data, content_type="application/pdf")}


# Who may use what --------------------------------------------------------------------------------

ROLES = ["steward", "officer", "auditor", "nobody", None]
READERS = {"officer", "auditor"}
ENDPOINTS = [
    ("get", "/api/v1/reports/"),
    ("get", f"/api/v1/reports/{REPORT}"),
    ("get", f"/api/v1/reports/{REPORT}/download"),
    ("post", "/api/v1/reports/verify"),
]
CASES = [
    pytest.param(method, path, role, 200 if role in READERS else (401 if role is None else 403),
                 id=f"{method} {path} as {role}")
    for method, path in ENDPOINTS
    for role in ROLES
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES)
def test_each_role_uses_the_report_endpoints_it_may_and_gets_no_data_otherwise(
    api_as, approved, approved_pdf, method, path, role, expected
):
    client = api_as(role)
    response = client.post(path, upload(approved_pdf)) if method == "post" else client.get(path)
    assert response.status_code == expected, response.content[:500]
    if expected == 200:
        if response["Content-Type"] == "application/pdf":
            assert response.content == approved_pdf
        else:
            assert REPORT in response.content.decode()
    else:
        body = response.content.decode()
        assert REPORT not in body and approved.pdf_sha256 not in body
        assert set(response.json()) == {"message", "field"}


# Listing and reading -----------------------------------------------------------------------------


def test_reports_are_listed_with_their_quarter_model_status_and_hashes(api_as, approved):
    [listed] = api_as("auditor").get("/api/v1/reports/").json()
    assert listed["id"] == REPORT and listed["quarter"] == "2026-Q4" and listed["status"] == "approved"
    assert listed["model"] is None  # every model audited in the quarter
    assert (listed["pdf_sha256"], listed["evidence_sha256"]) == (approved.pdf_sha256, approved.evidence_sha256)
    assert listed["runs"] == [run.pk for run in approved.runs.all()] and listed["approved_at"]
    assert listed["download"] == f"/api/v1/reports/{REPORT}/download"


@pytest.mark.parametrize(
    ("query", "found"),
    [({"quarter": "2026-Q4"}, [REPORT]), ({"quarter": "2027-Q1"}, []), ({"status": "approved"}, [REPORT]),
     ({"status": "draft"}, [])],
)  # fmt: skip
def test_the_list_is_filtered_by_quarter_and_status(api_as, approved, query, found):
    assert [r["id"] for r in api_as("officer").get("/api/v1/reports/", query).json()] == found


@pytest.mark.parametrize(("query", "field"), [({"quarter": "Q4"}, "quarter"), ({"status": "signed"}, "status")])
def test_a_bad_filter_is_a_422_naming_it(api_as, approved, query, field):
    response = api_as("officer").get("/api/v1/reports/", query)
    assert response.status_code == 422 and response.json()["field"] == field


def test_a_report_shows_who_generated_reviewed_and_approved_it(api_as, approved):
    detail = api_as("officer").get(f"/api/v1/reports/{REPORT}").json()
    assert [(h["from_status"], h["to_status"], h["by"]) for h in detail["history"]] == [
        ("", "draft", "user:olivia"),
        ("draft", "reviewed", "user:arthur"),
        ("reviewed", "approved", "user:olivia"),
    ]
    assert detail["history"][1]["comment"] == "figures checked"
    assert detail["withdrawn_since_approval"] == 0


def test_an_unknown_report_is_a_json_404(api_as, approved):
    for path in ("/api/v1/reports/BR-1999-Q1-0001", "/api/v1/reports/BR-1999-Q1-0001/download"):
        response = api_as("auditor").get(path)
        assert response.status_code == 404
        assert response.json() == {"message": "no report 'BR-1999-Q1-0001'", "field": None}


# Downloading -------------------------------------------------------------------------------------


def test_the_download_is_the_signed_pdf_as_an_attachment(api_as, approved, approved_pdf):
    response = api_as("auditor").get(f"/api/v1/reports/{REPORT}/download")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{REPORT}-approved.pdf"'
    assert hashlib.sha256(response.content).hexdigest() == approved.pdf_sha256 == response["X-Content-SHA256"]


def test_a_stored_file_that_no_longer_matches_its_hash_is_not_served(api_as, approved, approved_pdf):
    path = services.report_file(approved)
    path.write_bytes(approved_pdf + b"\n% appended")
    try:
        response = api_as("officer").get(f"/api/v1/reports/{REPORT}/download")
    finally:
        path.write_bytes(approved_pdf)
    assert response.status_code == 409
    assert response.json()["message"] == f"the stored file of {REPORT} does not match its recorded SHA-256; not served"


# Verifying ---------------------------------------------------------------------------------------


def test_the_downloaded_approved_pdf_verifies_as_authentic(api_as, approved):
    api = api_as("auditor")
    downloaded = api.get(f"/api/v1/reports/{REPORT}/download").content
    verdict = api.post("/api/v1/reports/verify", upload(downloaded, f"{REPORT}.pdf")).json()
    assert verdict["authentic"] is True
    assert verdict["report"] == {"id": REPORT, "quarter": "2026-Q4", "status": "approved"}
    assert verdict["sha256"] == approved.pdf_sha256
    assert [check["ok"] for check in verdict["checks"]] == [True, True, True]
    assert f"the file is approved report {REPORT} (2026-Q4), byte for byte" == verdict["checks"][0]["message"]


def test_a_tampered_pdf_is_refused(api_as, approved, approved_pdf):
    tampered = bytearray(approved_pdf)
    tampered[len(tampered) // 2] ^= 0x01
    response = api_as("officer").post("/api/v1/reports/verify", upload(bytes(tampered)))
    assert response.status_code == 200
    verdict = response.json()
    assert verdict["authentic"] is False
    assert verdict["sha256"] != approved.pdf_sha256
    failed = [check["message"] for check in verdict["checks"] if not check["ok"]]
    assert any("signature does not hold" in message or "no signature" in message for message in failed), failed


def test_an_earlier_draft_of_the_report_is_not_the_approved_file(api_as, world, approved):
    verdict = api_as("auditor").post("/api/v1/reports/verify", upload(world["draft_pdf"])).json()
    assert verdict["authentic"] is False
    assert verdict["report"]["id"] == REPORT
    assert verdict["checks"][0]["message"].startswith(f"the file claims to be report {REPORT}, but its bytes differ")
    assert {"ok": False, "message": "the file carries no signature"} in verdict["checks"]


def test_a_pdf_from_elsewhere_is_not_a_report_of_this_platform(api_as, approved):
    verdict = api_as("auditor").post("/api/v1/reports/verify", upload(b"%PDF-1.4\n%%EOF\n")).json()
    assert verdict["authentic"] is False and verdict["report"] is None
    assert verdict["checks"][0] == {"ok": False, "message": "the file is not a report of this platform"}


def test_a_file_that_is_not_a_pdf_is_a_422_naming_the_file(api_as, approved):
    response = api_as("auditor").post("/api/v1/reports/verify", upload(b"PK\x03\x04 a zip", "report.zip"))
    assert response.status_code == 422
    assert response.json() == {"message": "the file is not a PDF", "field": "file"}


def test_an_upload_without_a_file_is_a_422_naming_the_file(api_as, approved):
    response = api_as("auditor").post("/api/v1/reports/verify", {})
    assert response.status_code == 422
    assert response.json() == {"message": "send the PDF to verify as the multipart form field 'file'", "field": "file"}


def test_an_oversized_upload_is_refused_and_never_written_to_disk(api_as, approved, approved_pdf, monkeypatch, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # Django's own handlers would now write any upload to a temporary file
    monkeypatch.setattr("reports.api.VERIFY_MAX_BYTES", len(approved_pdf) - 1)
    written = []
    monkeypatch.setattr("django.core.files.uploadhandler.TemporaryFileUploadHandler.new_file", written.append)
    response = api_as("auditor").post("/api/v1/reports/verify", upload(approved_pdf))
    assert response.status_code == 413
    assert response.json() == {"message": "the file is larger than 25 MB; it was not checked", "field": "file"}
    assert written == []


def test_a_role_that_may_not_verify_is_refused_before_its_upload_is_read(api_as, approved_pdf, monkeypatch):
    read = []
    monkeypatch.setattr("django.http.request.HttpRequest._load_post_and_files", lambda request: read.append(1))
    response = api_as("steward").post("/api/v1/reports/verify", upload(approved_pdf))
    assert response.status_code == 403
    assert read == []
