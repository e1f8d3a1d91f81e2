"""Quarterly reports: list, download, verify a file: /api/v1/reports/ (mounted by config/api.py)."""

from datetime import datetime
from enum import Enum

from django.http import Http404, HttpResponse
from ninja import Field, File, Query, Router, Schema, UploadedFile
from ninja.errors import HttpError

from audit.models import PERIOD
from consent.rules.ledger import sha256_hex
from core.api import FieldError, allowed
from reports.forms import VERIFY_MAX_BYTES, VERIFY_MAX_LABEL, CappedMemoryUpload
from reports.models import Report
from reports.services import report_file
from reports.verification import verify_report

router = Router()

# Named after the model it describes, so that the OpenAPI document keeps one enum per status field.
ReportStatus = Enum("ReportStatus", {value: value for value in Report.Status.values}, type=str)

VIEW = "reports.view_report"
PDF_MAGIC = b"%PDF-"


def _keep_the_upload_in_memory(request) -> None:
    """The web page's upload handler: the file is kept in memory up to the cap and never written to disk; a
    larger one is read past and dropped."""
    request.upload_handlers = [CappedMemoryUpload(request, limit=VERIFY_MAX_BYTES)]


class ReportModel(Schema):
    name: str
    version: str


class ReportOut(Schema):
    id: str = Field(description="the report's reference, e.g. BR-2026-Q4-0001")
    quarter: str
    model: ReportModel | None = Field(description="null: the report covers every model audited in the quarter")
    status: ReportStatus
    pdf_sha256: str = Field(description="SHA-256 of the current PDF (the signed one, once approved)")
    evidence_sha256: str = Field(description="SHA-256 of the evidence bundle attached inside the PDF")
    runs: list[int] = Field(description="the audit runs the report covers")
    created_at: datetime
    approved_at: datetime | None
    download: str = Field(description="where to download the PDF")


class TransitionOut(Schema):
    from_status: str
    to_status: str
    by: str
    at: datetime
    comment: str


class ReportDetail(ReportOut):
    history: list[TransitionOut] = Field(description="generated, reviewed, approved: who and when")
    withdrawn_since_approval: int = Field(
        description="audited items whose subjects withdrew after approval (the report itself is unchanged)"
    )


class ReportRef(Schema):
    id: str
    quarter: str
    status: ReportStatus


class VerificationCheck(Schema):
    ok: bool
    message: str


class VerificationOut(Schema):
    authentic: bool = Field(description="true only when every check holds: the file is an approved report, intact")
    sha256: str = Field(description="SHA-256 of the uploaded file")
    report: ReportRef | None = Field(description="the report the file is, or claims to be")
    checks: list[VerificationCheck]


def _reports():
    return Report.objects.select_related("model_version").prefetch_related("runs")


def _report_out(report: Report) -> dict:
    model = report.model_version
    return {
        "id": report.report_id, "quarter": report.quarter,
        "model": {"name": model.name, "version": model.version} if model else None,
        "status": report.status, "pdf_sha256": report.pdf_sha256, "evidence_sha256": report.evidence_sha256,
        "runs": sorted(run.pk for run in report.runs.all()), "created_at": report.created_at,
        "approved_at": report.approved_at, "download": f"/api/v1/reports/{report.report_id}/download",
    }  # fmt: skip


def _report(report_id: str) -> Report:
    report = _reports().filter(report_id=report_id).first()
    if report is None:
        raise Http404(f"no report {report_id!r}")
    return report


@router.get("/", auth=allowed(VIEW), response=list[ReportOut], summary="List quarterly reports")
def list_reports(
    request,
    quarter: str | None = Query(None, pattern=PERIOD.pattern, description="a reporting quarter, e.g. 2026-Q4"),
    status: ReportStatus | None = None,
):
    """Reports, newest quarter first, with the hashes of their PDF and of the evidence inside it."""
    reports = _reports().order_by("-quarter", "-report_id")
    if quarter:
        reports = reports.filter(quarter=quarter)
    if status:
        reports = reports.filter(status=status.value)
    return [_report_out(report) for report in reports]


@router.post(
    "/verify", auth=allowed(VIEW, before_body=_keep_the_upload_in_memory), response=VerificationOut,
    summary="Verify that a PDF is an approved report",
)  # fmt: skip
def verify(request, file: UploadedFile | None = File(None, description="the PDF to check")):  # noqa: B008
    """Is this file, byte for byte, a report this platform approved, with an intact signature of the
    organisation and the evidence the platform stored? Every check is listed with its outcome."""
    if request.upload_handlers[0].too_large:
        raise FieldError("file", f"the file is larger than {VERIFY_MAX_LABEL}; it was not checked", 413)
    if file is None:
        raise FieldError("file", "send the PDF to verify as the multipart form field 'file'")
    data = file.read()
    if not data.startswith(PDF_MAGIC):
        raise FieldError("file", "the file is not a PDF")
    result = verify_report(data)
    report = result.report
    return {
        "authentic": result.authentic,
        "sha256": sha256_hex(data),
        "report": {"id": report.report_id, "quarter": report.quarter, "status": report.status} if report else None,
        "checks": [{"ok": ok, "message": message} for ok, message in result.checks],
    }


@router.get("/{report_id}", auth=allowed(VIEW), response=ReportDetail, summary="A report and its sign-off history")
def report_detail(request, report_id: str):
    report = _report(report_id)
    history = [
        {"from_status": t.from_status, "to_status": t.to_status, "by": t.actor_label, "at": t.at,
         "comment": t.comment}
        for t in report.history.all()
    ]  # fmt: skip
    withdrawn = {item for impact in report.impacts.all() for item in impact.item_ids}
    return _report_out(report) | {"history": history, "withdrawn_since_approval": len(withdrawn)}


@router.get(
    "/{report_id}/download", auth=allowed(VIEW), summary="Download a report's PDF",
    openapi_extra={"responses": {200: {"description": "the PDF (signed once approved)",
                                       "content": {"application/pdf": {"schema": {"type": "string",
                                                                                   "format": "binary"}}}}}},
)  # fmt: skip
def download(request, report_id: str):
    """The report's current PDF, as an attachment; served only when its bytes match the recorded SHA-256."""
    report = _report(report_id)
    path = report_file(report)
    if not path.is_file():
        raise Http404(f"the file of report {report.report_id} is missing")
    data = path.read_bytes()
    if sha256_hex(data) != report.pdf_sha256:
        raise HttpError(409, f"the stored file of {report.report_id} does not match its recorded SHA-256; not served")
    return HttpResponse(
        data, content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{report.report_id}-{report.status}.pdf"',
                 "X-Content-SHA256": report.pdf_sha256},
    )  # fmt: skip
