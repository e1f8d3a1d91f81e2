"""The first page after sign-in: what needs attention, per model, for the signed-in user's role.

Everything it shows comes through the apps' selectors; what a user may not see is never read.
"""

from dataclasses import dataclass
from functools import lru_cache

import orjson
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from audit import selectors as audit_selectors
from core.web import forbidden, require_permission
from reports import selectors as report_selectors
from reports.context import previous_quarters
from reports.models import Report
from reports.render.charts import trend_chart

TREND_QUARTERS = 4
SEE_VERDICTS = ("audit.view_auditrun", "audit.view_gapresult")
SEE_RUNS = "audit.view_auditrun"
RECORDS_CONSENT = "consent.add_consentevent"


@dataclass(frozen=True)
class ModelStanding:
    """A model's latest audit: its own verdict, the verdict per attribute, and the gap over the last quarters as
    an SVG chart."""

    name: str
    run: object  # the latest succeeded AuditRun
    verdict: str  # the run's audit-level verdict ("" for a run stored before runs had one)
    gaps: list  # its GapResult rows, one per attribute
    chart: str
    run_url: str | None


def model_standings() -> list[ModelStanding]:
    standings = []
    for run in audit_selectors.latest_run_per_model_name():
        name = run.model_version.name
        quarters = previous_quarters(run.period, TREND_QUARTERS)
        by_quarter = audit_selectors.latest_runs_by_quarter(name, quarters)
        by_quarter[run.period] = run
        gaps = audit_selectors.headline_gaps(list(by_quarter.values()))
        trend = trend_entries(name, quarters, by_quarter, gaps, latest=run)
        standings.append(
            ModelStanding(
                name=name, run=run, verdict=run.verdict, gaps=gaps[run.pk],
                chart=trend_svg(trend, chart_id=f"trend-{run.pk}"), run_url=_optional_url("audit:run", run.pk),
            )
        )  # fmt: skip
    return standings


def trend_entries(name: str, quarters: list[str], by_quarter: dict, gaps: dict, *, latest) -> list[dict]:
    """The gap of each of the latest run's attributes in each quarter, as `reports.render.charts` draws it."""
    entries = []
    for gap in gaps[latest.pk]:
        points = []
        for quarter in quarters:
            run = by_quarter.get(quarter)
            past = next((g for g in gaps[run.pk] if g.grouping == gap.grouping), None) if run else None
            points.append(
                {"quarter": quarter, "value": past.value if past else None,
                 "ci": [past.ci_low, past.ci_high] if past else [None, None], "verdict": past.verdict if past else ""}
            )  # fmt: skip
        threshold = gap.threshold if gap.threshold is not None else latest.policy.threshold
        entries.append({"model": name, "attribute": gap.grouping, "threshold": threshold, "points": points})
    return entries


def trend_svg(trend: list[dict], *, chart_id: str) -> str:
    if not trend:
        return ""
    return _cached_trend_svg(orjson.dumps(trend, option=orjson.OPT_SORT_KEYS).decode(), chart_id)


@lru_cache(maxsize=64)
def _cached_trend_svg(trend_json: str, chart_id: str) -> str:
    """Charts are drawn once per distinct set of figures (matplotlib takes a while)."""
    return trend_chart(orjson.loads(trend_json), chart_id=chart_id)


def _optional_url(name: str, *args) -> str | None:
    """A link to another app's page, when that page exists."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


CONSENT_SHORTCUTS = [
    ("Find a subject", "consent:subjects", "consent.view_subject",
     "Search by reference, see the consent history, record a grant or a withdrawal."),
    ("Import consent", "consent:import", "consent.import_consent",
     "A file of consent events, checked row by row; nothing is written if a row is wrong."),
    ("Check the ledger", "consent:ledger", "consent.view_consentevent",
     "Verify that the hash chain of consent events is intact."),
    ("Datasets and provenance", "consent:datasets", "consent.view_dataset",
     "Sources, licences, copyright status and items per stratum."),
]  # fmt: skip


def consent_shortcuts(user) -> list[dict]:
    """The consent pages the user may use, for those who record consent (data stewards)."""
    shortcuts = []
    for label, url_name, permission, description in CONSENT_SHORTCUTS:
        href = _optional_url(url_name)
        if href and user.has_perm(permission):
            shortcuts.append({"label": label, "href": href, "description": description})
    return shortcuts


@require_permission()
def dashboard(request):
    user = request.user
    if request.GET.get("partial") == "runs":
        return runs_in_progress(request)
    sees_verdicts = user.has_perms(SEE_VERDICTS)
    context = {
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "sees_verdicts": sees_verdicts,
        "models": model_standings() if sees_verdicts else [],
        "sees_runs": user.has_perm(SEE_RUNS),
        "runs": audit_selectors.runs_in_progress() if user.has_perm(SEE_RUNS) else [],
        "watching": "",
        "awaiting_review": _awaiting(user, "reports.review_report", Report.Status.DRAFT),
        "awaiting_approval": _awaiting(user, "reports.approve_report", Report.Status.REVIEWED),
        "shortcuts": consent_shortcuts(user) if user.has_perm(RECORDS_CONSENT) else None,
    }
    return render(request, "core/dashboard.html", context)


def _awaiting(user, permission: str, status: str):
    if not (user.has_perm(permission) and user.has_perm("reports.view_report")):
        return None
    return report_selectors.reports_awaiting(status)


def runs_in_progress(request):
    """The live part of the dashboard: htmx asks for it every 2 s while a run is queued or running."""
    if not request.user.has_perm(SEE_RUNS):
        return forbidden(request)
    context = {"runs": audit_selectors.runs_in_progress(), "watching": request.GET.get("watching", "")}
    return render(request, "core/_runs_in_progress.html", context)
