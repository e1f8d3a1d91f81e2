"""Reads of the reports app: the report list, one report with its findings, and what awaits a decision."""

import re
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from reports.models import FindingComment, Report, ReportTransition

Status = Report.Status


@dataclass(frozen=True)
class ReportRow:
    """One line of the report list: the report and who generated and approved it."""

    report: Report
    generated_by: str
    approved_by: str


@dataclass
class Finding:
    """One attribute's headline gap in a report's frozen figures, with the auditors' comments on it.

    `key` is how comments name the finding, e.g. "skin_tone:monk_3 / mean_score_gap" (prefixed with the model,
    "demo 1 · skin_tone:monk_3 / mean_score_gap", when the report covers several models).
    """

    key: str
    slug: str
    model: str
    attribute: str
    metric: str
    value: float | None
    ci: tuple[float | None, float | None]
    threshold: float | None
    verdict: str
    n_needed: int | None
    highest: str | None
    lowest: str | None
    comments: list[FindingComment] = field(default_factory=list)


def _with_people(reports: QuerySet) -> QuerySet:
    return reports.select_related("model_version", "created_by").prefetch_related(
        Prefetch("history", queryset=ReportTransition.objects.select_related("actor").order_by("at", "pk"))
    )


def _row(report: Report) -> ReportRow:
    approvals = [t for t in report.history.all() if t.to_status == Status.APPROVED]
    generated_by = report.created_by.get_username() if report.created_by else _generated_label(report)
    approved_by = _person(approvals[-1]) if approvals else ""
    return ReportRow(report=report, generated_by=generated_by, approved_by=approved_by)


def _generated_label(report: Report) -> str:
    first = next(iter(report.history.all()), None)
    return _person(first) if first is not None else "—"


def _person(transition: ReportTransition) -> str:
    return transition.actor.get_username() if transition.actor else transition.actor_label


def report_list() -> list[ReportRow]:
    """Every report, newest quarter first, then newest report of the quarter first."""
    return [_row(r) for r in _with_people(Report.objects.order_by("-quarter", "-report_id"))]


def report_by_id(report_id: str) -> Report | None:
    return _with_people(Report.objects.filter(report_id=report_id)).first()


def report_row(report: Report) -> ReportRow:
    return _row(report)


def reports_awaiting(status: str) -> list[ReportRow]:
    """Reports in `status`: drafts await an auditor's review, reviewed reports an officer's approval."""
    return [_row(r) for r in _with_people(Report.objects.filter(status=status).order_by("created_at", "pk"))]


def finding_slug(key: str) -> str:
    """A finding's key as an HTML id: "skin_tone:monk_3 / mean_score_gap" -> "skin-tone-monk-3-mean-score-gap"."""
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or "finding"


def findings_of(report: Report) -> list[Finding]:
    """The report's findings, one per attribute verdict in its frozen context, each with its comments."""
    summary = report.context.get("summary", [])
    several_models = len({line["model"] for line in summary}) > 1
    comments = list(report.comments.select_related("author").order_by("at", "pk"))
    findings = []
    for line in summary:
        key = f"{line['attribute']} / {line['metric']}"
        if several_models:
            key = f"{line['model']} · {key}"
        low, high = (line.get("ci") or [None, None])[:2]
        findings.append(
            Finding(
                key=key, slug=finding_slug(key), model=line["model"], attribute=line["attribute"],
                metric=line["metric"], value=line.get("value"), ci=(low, high), threshold=line.get("threshold"),
                verdict=line.get("verdict") or "", n_needed=line.get("n_needed"), highest=line.get("highest"),
                lowest=line.get("lowest"), comments=[c for c in comments if c.finding == key],
            )
        )  # fmt: skip
    return findings


def other_comments(report: Report, findings: list[Finding]) -> list[FindingComment]:
    """Comments on findings the page does not list (made on the command line under another name)."""
    known = {finding.key for finding in findings}
    return [c for c in report.comments.order_by("at", "pk") if c.finding not in known]


def impacts_of(report: Report) -> list:
    return list(report.impacts.all())
