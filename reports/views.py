"""The report pages: list and generate, one report (findings, comments, review, approval), its PDF, verify a file."""

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from audit.selectors import audited_quarters
from consent.errors import RuleViolation
from consent.rules.ledger import sha256_hex
from core.web import actor_of, require_permission
from reports import selectors, services
from reports.forms import (
    VERIFY_MAX_BYTES,
    VERIFY_MAX_LABEL,
    CappedMemoryUpload,
    CommentForm,
    GenerateReportForm,
    ReturnToDraftForm,
    StepForm,
    VerifyForm,
)
from reports.models import IllegalTransition, Report
from reports.signing import SigningKeyMissing
from reports.verification import verify_report

Status = Report.Status
VIEW = "reports.view_report"
SIGNING_KEY_MISSING = (
    "The report was not approved: this server has no signing key to sign it with. Ask the operator to run "
    "`manage.py create_signing_key` (or to set REPORT_SIGNING_KEY and REPORT_SIGNING_CERT), then approve again. "
    "Nothing was changed."
)
FILE_CHANGED = "The stored file of {report} does not match its recorded SHA-256; it is not served. Tell the operator."


# List and generate ---------------------------------------------------------------------------------


def default_quarter() -> str:
    """The newest quarter with a completed audit run, or else the current quarter."""
    quarters = audited_quarters()
    return quarters[0] if quarters else services.current_quarter()


@require_permission(VIEW)
def report_list(request):
    form = GenerateReportForm(initial={"quarter": default_quarter()})
    return _list_page(request, form)


@require_permission(VIEW, "reports.generate_report")
@require_POST
def generate(request):
    form = GenerateReportForm(request.POST)
    if form.is_valid():
        try:
            report = services.generate_report(
                actor=actor_of(request), quarter=form.cleaned_data["quarter"], model=form.cleaned_data["model"]
            )
        except RuleViolation as exc:
            _add_problems(form, exc)
        else:
            messages.success(request, f"Report {report.report_id} generated as a draft. An auditor reviews it next.")
            return redirect("reports:detail", report.report_id)
    return _list_page(request, form)


def _list_page(request, form):
    context = {
        "rows": selectors.report_list(),
        "form": form if request.user.has_perm("reports.generate_report") else None,
        "quarters": audited_quarters(),
    }
    return render(request, "reports/web/list.html", context)


def _add_problems(form, exc: RuleViolation) -> None:
    for field, message in exc.problems:
        form.add_error(field if field in form.fields else None, message)


# One report ---------------------------------------------------------------------------------------


def _report_or_404(report_id: str) -> Report:
    report = selectors.report_by_id(report_id)
    if report is None:
        raise Http404("no such report")
    return report


@require_permission(VIEW)
def report_detail(request, report_id: str):
    report = _report_or_404(report_id)
    return render(request, "reports/web/detail.html", _detail_context(request, report))


def _detail_context(request, report: Report) -> dict:
    user = request.user
    see_comments = user.has_perm("reports.view_findingcomment")
    findings = selectors.findings_of(report)
    can_comment = user.has_perm("reports.review_report") and report.status != Status.APPROVED
    return {
        "report": report,
        "row": selectors.report_row(report),
        "history": list(report.history.all()),
        "findings": findings,
        "several_models": len({f.model for f in findings}) > 1,
        "see_comments": see_comments,
        "other_comments": selectors.other_comments(report, findings) if see_comments else [],
        "comment_forms": {f.key: _comment_form(f, findings) for f in findings} if can_comment else {},
        "impacts": selectors.impacts_of(report) if user.has_perm("reports.view_reportimpact") else [],
        "can_review": user.has_perm("reports.review_report") and report.status == Status.DRAFT,
        "can_decide": user.has_perm("reports.approve_report") and report.status == Status.REVIEWED,
        "reviewed_by_me": _reviewed_by(report, user),
        "step_form": StepForm(),
        "return_form": ReturnToDraftForm(),
        "system": report.context.get("system", {}),
        "runs": [{**run, "url": _run_url(run["id"])} for run in report.context.get("runs", [])],
    }


def _run_url(run_id: int) -> str | None:
    """The audit run's page, where the audit app has one."""
    try:
        return reverse("audit:run", args=[run_id])
    except NoReverseMatch:
        return None


def _reviewed_by(report: Report, user) -> bool:
    reviews = [t for t in report.history.all() if t.to_status == Status.REVIEWED]
    return bool(reviews) and reviews[-1].actor_id == user.pk


def _comment_form(finding, findings, data=None) -> CommentForm:
    """One finding's comment form; ids carry the finding's slug, so that many forms share a page."""
    return CommentForm(
        data, findings=[f.key for f in findings], initial={"finding": finding.key}, auto_id=f"id_%s_{finding.slug}"
    )


@require_permission(VIEW, "reports.review_report")
@require_POST
def comment(request, report_id: str):
    """An auditor's comment on one finding; over htmx the finding's comments come back in place."""
    report = _report_or_404(report_id)
    findings = selectors.findings_of(report)
    finding = next((f for f in findings if f.key == request.POST.get("finding")), None)
    if finding is None:
        return HttpResponseBadRequest("This report has no such finding.")
    form = _comment_form(finding, findings, request.POST)
    saved = False
    if form.is_valid():
        try:
            services.comment_on_finding(
                actor=actor_of(request), report=report, finding=finding.key, text=form.cleaned_data["text"]
            )
            saved = True
        except RuleViolation as exc:
            _add_problems(form, exc)
    if not request.htmx:
        if saved:
            messages.success(request, f"Comment added to {finding.key}.")
        else:
            messages.error(request, f"Comment not added to {finding.key}: {_first_error(form)}")
        return redirect(reverse("reports:detail", args=[report.report_id]) + f"#finding-{finding.slug}")
    if saved:
        finding = next(f for f in selectors.findings_of(report) if f.key == finding.key)
        form = _comment_form(finding, findings)
    context = {"report": report, "finding": finding, "form": form, "just_saved": saved, "see_comments": True}
    return render(request, "reports/web/_finding_comments.html", context)


def _first_error(form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label or field}: {errors[0]}" if field != "__all__" else errors[0]
    return "invalid input"


@require_permission(VIEW, "reports.review_report")
@require_POST
def review(request, report_id: str):
    return _step(
        request, report_id, StepForm, services.review_report, "Report {report} marked reviewed. A compliance "
        "officer other than you approves it next.",
    )  # fmt: skip


@require_permission(VIEW, "reports.approve_report")
@require_POST
def approve(request, report_id: str):
    return _step(
        request, report_id, StepForm, services.approve_report,
        "Report {report} approved and signed. Its PDF is now final.",
    )  # fmt: skip


@require_permission(VIEW, "reports.approve_report")
@require_POST
def return_to_draft(request, report_id: str):
    return _step(
        request, report_id, ReturnToDraftForm, services.return_to_draft,
        "Report {report} went back to draft; it needs a new review.",
    )  # fmt: skip


def _step(request, report_id: str, form_class, action, success: str):
    """Run one workflow step; whatever the service refuses comes back as a message on the report page."""
    report = _report_or_404(report_id)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing changed. {_first_error(form)}")
        return redirect("reports:detail", report.report_id)
    try:
        action(actor=actor_of(request), report=report, comment=form.cleaned_data["comment"])
    except SigningKeyMissing:
        messages.error(request, SIGNING_KEY_MISSING)
    except (PermissionError, IllegalTransition, RuleViolation) as exc:
        messages.error(request, f"Refused: {exc}.")
    else:
        messages.success(request, success.format(report=report.report_id))
    return redirect("reports:detail", report.report_id)


# The file ------------------------------------------------------------------------------------------


@require_permission(VIEW)
@xframe_options_sameorigin
def report_pdf(request, report_id: str):
    """The report's current PDF, shown in the browser (the signed file once approved)."""
    return _pdf(request, _report_or_404(report_id), disposition="inline")


@require_permission(VIEW)
def download_pdf(request, report_id: str):
    return _pdf(request, _report_or_404(report_id), disposition="attachment")


def download_name(report: Report) -> str:
    suffix = "" if report.status == Status.APPROVED else f"-{report.status}"
    return f"{report.report_id}{suffix}.pdf"


def _pdf(request, report: Report, *, disposition: str):
    try:
        data = services.report_file(report).read_bytes()
    except FileNotFoundError:
        data = b""
    if sha256_hex(data) != report.pdf_sha256:
        messages.error(request, FILE_CHANGED.format(report=report.report_id))
        return redirect("reports:detail", report.report_id)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'{disposition}; filename="{download_name(report)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# Verify --------------------------------------------------------------------------------------------


@csrf_exempt  # checked by `_verify`, once the capped upload handler is in place
@require_permission(VIEW)
def verify(request):
    """Upload a PDF and learn whether it is an approved report of this platform. The file is not kept."""
    request.upload_handlers = [CappedMemoryUpload(request, limit=VERIFY_MAX_BYTES)]
    return _verify(request)


@csrf_protect
def _verify(request):
    outcome = None
    form = VerifyForm()
    if request.method == "POST":
        form = VerifyForm(request.POST, request.FILES)
        if request.upload_handlers[0].too_large:
            form.is_valid()
            form.errors["file"] = form.error_class([f"The file is larger than {VERIFY_MAX_LABEL}; it was not checked."])
        elif form.is_valid():
            data = form.cleaned_data["file"]
            outcome = {
                "name": request.FILES["file"].name,
                "size": len(data),
                "sha256": sha256_hex(data),
                "result": verify_report(data),
            }
            form = VerifyForm()
    context = {"form": form, "outcome": outcome, "max_label": VERIFY_MAX_LABEL}
    return render(request, "reports/web/verify.html", context)
