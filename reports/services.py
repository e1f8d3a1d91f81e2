"""Every write of the reports app: generate, comment, review, approve (and sign), flag affected reports."""

import uuid
from pathlib import Path

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.selectors import quarter_runs
from consent.errors import RuleViolation
from consent.rules.ledger import sha256_hex
from core import audit_log
from core.audit_log import Actor
from core.files import removed_unless_committed
from reports.context import build_context, file_context
from reports.models import FindingComment, Report, ReportImpact, ReportTransition
from reports.render import render_pdf
from reports.signing import sign_pdf
from scoring.models import ModelVersion
from scoring.selectors import affected_members, scored_item_ids

EVIDENCE_ATTACHMENT = "evidence.json"
BUNDLE_SCHEMA = "bias-audit-report-evidence/1"
Status = Report.Status


def evidence_bundle(report_id: str, quarter: str, runs) -> bytes:
    """The evidence attached inside the PDF: every run's evidence JSON, as stored, with its hash."""
    return orjson.dumps(
        {
            "schema": BUNDLE_SCHEMA,
            "report": report_id,
            "quarter": quarter,
            "runs": [{"run": r.pk, "evidence_sha256": r.evidence_sha256, "evidence": r.evidence} for r in runs],
        },
        option=orjson.OPT_SORT_KEYS,
    )


def _reports_dir() -> Path:
    path = Path(settings.ARTIFACT_ROOT) / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def generate_report(*, actor: Actor, quarter: str, model: ModelVersion | None = None) -> Report:
    """A draft report of the quarter's latest succeeded run per model (or of one model)."""
    _require(actor, "reports.generate_report", "generate reports")
    runs = quarter_runs(quarter, model)
    if not runs:
        what = f"of {model} " if model else ""
        raise RuleViolation([("quarter", f"no succeeded audit run {what}for {quarter}; run one first")])
    flag_affected_reports(actor=actor)
    for attempt in range(5):
        try:
            with removed_unless_committed() as written, transaction.atomic():
                number = Report.objects.filter(quarter=quarter).count() + 1 + attempt
                report_id = f"BR-{quarter}-{number:04d}"
                report = Report(
                    report_id=report_id, quarter=quarter, model_version=model, status=Status.DRAFT, context={},
                    created_by=actor.user,
                )  # fmt: skip
                bundle = evidence_bundle(report_id, quarter, runs)
                report.evidence_sha256 = sha256_hex(bundle)
                report.context = _context(report, runs, signoff_extra=[_signoff(actor, "generated", "")])
                report.pdf_path, report.pdf_sha256 = _write_pdf(report, bundle, written)
                report.save()
                report.runs.set(runs)
                ReportTransition.objects.create(
                    report=report, from_status="", to_status=Status.DRAFT, actor=actor.user,
                    actor_label=actor.label, comment="generated",
                )  # fmt: skip
                audit_log.record(
                    actor=actor, action="report.generate", object_type="report", object_id=report.report_id,
                    after={"quarter": quarter, "runs": [r.pk for r in runs], "pdf_sha256": report.pdf_sha256},
                )  # fmt: skip
            return report
        except IntegrityError:
            continue  # another report of the quarter took the number; take the next one
    raise RuntimeError(f"could not number a new report for {quarter}")


def comment_on_finding(*, actor: Actor, report: Report, finding: str, text: str) -> FindingComment:
    _require(actor, "reports.review_report", "comment on findings")
    if report.status == Status.APPROVED:
        raise RuleViolation([("report", f"{report} is approved; comments belong to the next quarter's report")])
    if not text.strip() or not finding.strip():
        raise RuleViolation([("text", "a comment names a finding and says something")])
    with transaction.atomic():
        comment = FindingComment.objects.create(
            report=report, finding=finding.strip(), author=actor.user, author_label=actor.label, text=text.strip()
        )
        audit_log.record(
            actor=actor, action="report.comment", object_type="report", object_id=report.report_id,
            after={"finding": comment.finding, "text": comment.text},
        )  # fmt: skip
    return comment


def review_report(*, actor: Actor, report: Report, comment: str = "") -> Report:
    """An auditor marks the draft reviewed; the PDF is rendered again with the review in its sign-off."""
    _require(actor, "reports.review_report", "review reports")
    return _move(actor, report, Status.REVIEWED, "reviewed", comment, sign=False)


def return_to_draft(*, actor: Actor, report: Report, comment: str) -> Report:
    _require(actor, "reports.approve_report", "return reports to draft")
    return _move(actor, report, Status.DRAFT, "returned to draft", comment, sign=False)


def approve_report(*, actor: Actor, report: Report, comment: str = "") -> Report:
    """A compliance officer approves the reviewed report: rendered a last time, signed (PAdES), then final.

    The approver cannot be the person who reviewed it (separation of duties).
    """
    _require(actor, "reports.approve_report", "approve reports")
    review = report.history.filter(to_status=Status.REVIEWED).order_by("-at", "-pk").first()
    if review is not None and _same_person(review, actor):
        raise PermissionError(f"{actor.label} reviewed {report}; another person must approve it")
    return _move(actor, report, Status.APPROVED, "approved", comment, sign=True)


def _same_person(transition: ReportTransition, actor: Actor) -> bool:
    if transition.actor_id is not None and actor.user is not None:
        return transition.actor_id == actor.user.pk
    return transition.actor_label == actor.label


def _move(actor: Actor, report: Report, new: str, action: str, comment: str, *, sign: bool) -> Report:
    with removed_unless_committed() as written, transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        before = {"status": report.status, "pdf_sha256": report.pdf_sha256}
        report.set_status(new, actor=actor, comment=comment)
        runs = list(report.runs.order_by("pk"))
        bundle = evidence_bundle(report.report_id, report.quarter, runs)
        if sha256_hex(bundle) != report.evidence_sha256:
            raise RuleViolation([("report", f"the stored results of {report}'s runs changed since it was generated")])
        report.context = _with_signoff(report)
        report.pdf_path, report.pdf_sha256 = _write_pdf(report, bundle, written, sign=sign, signer=actor.label)
        if new == Status.APPROVED:
            report.approved_at = timezone.now()
        report.save()
        audit_log.record(
            actor=actor, action=f"report.{new}", object_type="report", object_id=report.report_id, before=before,
            after={"status": report.status, "pdf_sha256": report.pdf_sha256, "comment": comment},
        )  # fmt: skip
    return report


def _require(actor: Actor, permission: str, what: str) -> None:
    if actor.user is not None and not actor.user.has_perm(permission):
        raise PermissionError(f"{actor.label} may not {what}")


def _signoff(actor: Actor, action: str, comment: str, at=None) -> dict:
    user = actor.user
    role = ", ".join(user.groups.values_list("name", flat=True)) if user is not None else "operator"
    return {"action": action, "by": actor.label, "role": role or "-",
            "at": (at or timezone.now()).isoformat(timespec="seconds"), "comment": comment}  # fmt: skip


def _with_signoff(report: Report) -> dict:
    """The figures stay those generated (and reviewed); only status, sign-off and comments move on."""
    fresh = _signoff_and_comments(report)
    context = dict(report.context)
    context["report"] = {**context["report"], "status": report.status}
    context["signoff"], context["findings_comments"] = fresh
    return context


def _context(report: Report, runs, signoff_extra=()) -> dict:
    signoff, comments = _signoff_and_comments(report)
    signoff.extend(signoff_extra)
    return build_context(
        report_id=report.report_id, quarter=report.quarter, runs=runs, status=report.status, signoff=signoff,
        comments=comments, affected_reports=_affected_earlier(report.quarter),
    )  # fmt: skip


def _signoff_and_comments(report: Report) -> tuple[list[dict], list[dict]]:
    signoff = []
    for transition in report.history.select_related("actor").order_by("at", "pk") if report.pk else []:
        user = transition.actor
        role = ", ".join(user.groups.values_list("name", flat=True)) if user is not None else "operator"
        signoff.append(
            {"action": transition.comment if transition.to_status == Status.DRAFT and not transition.from_status
             else transition.to_status, "by": transition.actor_label, "role": role or "-",
             "at": transition.at.isoformat(timespec="seconds"), "comment": transition.comment}
        )  # fmt: skip
    comments = [
        {"finding": c.finding, "by": c.author_label, "at": c.at.isoformat(timespec="seconds"), "text": c.text}
        for c in (report.comments.all() if report.pk else [])
    ]
    return signoff, comments


def _affected_earlier(quarter: str) -> list[dict]:
    affected = []
    for report in Report.objects.filter(status=Status.APPROVED, quarter__lt=quarter).order_by("quarter", "report_id"):
        items = {item for impact in report.impacts.all() for item in impact.item_ids}
        if items:
            affected.append({"report": report.report_id, "quarter": report.quarter, "members": len(items)})
    return affected


def _write_pdf(report: Report, bundle: bytes, written: list, *, sign: bool = False, signer: str = ""):
    pdf = render_pdf(report.context, attachments={EVIDENCE_ATTACHMENT: bundle})
    if sign:
        pdf = sign_pdf(pdf, reason=f"{report.report_id} approved", name=signer)
    relative = f"reports/{report.report_id}-{report.status}-{uuid.uuid4().hex[:12]}.pdf"
    path = _reports_dir() / Path(relative).name
    path.write_bytes(pdf)
    written.append(path)
    return relative, sha256_hex(pdf)


def report_file(report: Report) -> Path:
    return Path(settings.ARTIFACT_ROOT) / report.pdf_path


def flag_affected_reports(*, actor: Actor) -> list[ReportImpact]:
    """Record, without changing them, approved reports whose audited people stopped consenting after approval
    (withdrawal, expiry or erasure); consent lost before approval was already excluded or disclosed."""
    created = []
    for report_id in Report.objects.filter(status=Status.APPROVED).values_list("pk", flat=True):
        with transaction.atomic():
            report = Report.objects.select_for_update().get(pk=report_id)
            known = {item for impact in report.impacts.all() for item in impact.item_ids}
            new = set()
            for run in report.runs.select_related("evaluation_set", "score_artifact"):
                audited = set(scored_item_ids(run.score_artifact))
                lost_by_approval = set(affected_members(run.evaluation_set, report.approved_at))
                new |= (set(affected_members(run.evaluation_set)) & audited) - lost_by_approval - known
            if new:
                impact = ReportImpact.objects.create(report=report, item_ids=sorted(new))
                audit_log.record(
                    actor=actor, action="report.affected", object_type="report", object_id=report.report_id,
                    after={"items": len(new)},
                )  # fmt: skip
                created.append(impact)
    return created


def current_quarter(now=None) -> str:
    now = now or timezone.now()
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


def render_file_report(evidence: dict, document: bytes) -> bytes:
    """The PDF of a one-shot `audit_file` audit (not a registry report: unsigned, never approved)."""
    digest = sha256_hex(document)
    context = file_context(
        evidence, report_id=f"AF-{digest[:10]}", quarter=current_quarter(), evidence_sha256=digest
    )
    return render_pdf(context, attachments={EVIDENCE_ATTACHMENT: document})
