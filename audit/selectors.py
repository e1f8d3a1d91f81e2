"""Reads of the audit app; other apps read runs and their results through these."""

import orjson

from audit.fairness.results import Findings, Gap, RunVerdict, Section
from audit.fairness.spec import GAP_METRICS, INTERSECTION_SEPARATOR
from audit.method import method_view
from audit.models import AuditRun, GapResult, Verdict
from scoring.selectors import model_versions


def quarter_runs(quarter: str, model_version=None) -> list[AuditRun]:
    """The latest succeeded run of each model version for the quarter (or of the one model version)."""
    runs = AuditRun.objects.filter(period=quarter, status=AuditRun.Status.SUCCEEDED)
    if model_version is not None:
        runs = runs.filter(model_version=model_version)
    latest = {}
    for run in runs.select_related("model_version", "evaluation_set", "policy", "score_artifact").order_by(
        "finished_at", "pk"
    ):
        latest[run.model_version_id] = run
    return sorted(latest.values(), key=lambda r: (r.model_version.name, r.model_version.version))


def latest_run_of_model_name(quarter: str, model_name: str) -> AuditRun | None:
    return (
        AuditRun.objects.filter(period=quarter, status=AuditRun.Status.SUCCEEDED, model_version__name=model_name)
        .order_by("-finished_at", "-pk")
        .first()
    )


# Dashboard and report-form reads ------------------------------------------------------------------

HEADLINE_METRIC = "mean_score_gap"


def audited_model_versions():
    """Model versions with at least one succeeded audit run, by name and version."""
    return model_versions().filter(audit_runs__status=AuditRun.Status.SUCCEEDED).distinct().order_by("name", "version")


def audited_quarters() -> list[str]:
    """Quarters with a succeeded audit run, newest first."""
    periods = AuditRun.objects.filter(status=AuditRun.Status.SUCCEEDED).values_list("period", flat=True)
    return sorted(set(periods), reverse=True)


def latest_run_per_model_name() -> list[AuditRun]:
    """Each model's latest succeeded run (newest quarter, then last finished), by model name.

    A model is known by its name: a new version continues the model's history.
    """
    runs = (
        AuditRun.objects.filter(status=AuditRun.Status.SUCCEEDED)
        .select_related("model_version", "policy")
        .defer("evidence")
        .order_by("period", "finished_at", "pk")
    )
    latest = {run.model_version.name: run for run in runs}
    return [latest[name] for name in sorted(latest)]


def latest_runs_by_quarter(model_name: str, quarters: list[str]) -> dict[str, AuditRun]:
    """The latest succeeded run of the model (by name) in each of `quarters` that has one."""
    runs = (
        AuditRun.objects.filter(status=AuditRun.Status.SUCCEEDED, model_version__name=model_name, period__in=quarters)
        .select_related("model_version", "policy")
        .defer("evidence")
        .order_by("finished_at", "pk")
    )
    return {run.period: run for run in runs}


def headline_gaps(runs) -> dict[int, list[GapResult]]:
    """Per run, the headline gap (mean score gap) of each attribute, intersections left out, in the run's order."""
    gaps: dict[int, list[GapResult]] = {run.pk: [] for run in runs}
    rows = (
        GapResult.objects.filter(run__in=list(gaps), metric=HEADLINE_METRIC)
        .exclude(grouping__contains=INTERSECTION_SEPARATOR)
        .order_by("pk")
    )
    for gap in rows:
        gaps[gap.run_id].append(gap)
    return gaps


def runs_in_progress() -> list[AuditRun]:
    """Queued and running audit runs, oldest first, with their model and evaluation set."""
    return list(
        AuditRun.objects.filter(status__in=[AuditRun.Status.QUEUED, AuditRun.Status.RUNNING])
        .select_related("model_version", "evaluation_set")
        .defer("evidence")
        .order_by("created_at", "pk")
    )


# The pages of a run ---------------------------------------------------------------------------

LARGEST_INTERSECTIONS = 10
GROUP_FIGURES = ("mean_score", "selection_rate", "tpr", "fpr", "fnr")
# Evidence stored before runs had their own verdict states no error control across the run's verdicts.
LEGACY_ERROR_CONTROL = (
    "Not stated: this run was computed before the verdicts of a run were adjusted for one another, and before "
    "its intervals were simultaneous over the pairs of groups."
)


def findings_of(evidence: dict) -> Findings:
    """The typed findings of a stored evidence document (one stored before runs had a verdict of their own gets
    it derived from its verdicts by the same rule: fail if any fails, pass only if every judged one passes)."""
    if "verdict" not in evidence:
        evidence = {**evidence, "verdict": _legacy_run_verdict(evidence["verdicts"])}
    return Findings.from_json(evidence)


def _legacy_run_verdict(verdicts: list[dict]) -> dict:
    named = {outcome: [f"{v['grouping']}: {v['metric']}" for v in verdicts if v.get("verdict") == outcome]
             for outcome in Verdict.values}  # fmt: skip
    overall = next((o for o in ("fail", "inconclusive", "pass") if named[o]), Verdict.INSUFFICIENT.value)
    return {"verdict": overall, "counts": {o: len(n) for o, n in named.items()}, "failures": named["fail"],
            "inconclusive": named["inconclusive"], "not_judged": named["insufficient"],
            "error_control": LEGACY_ERROR_CONTROL}  # fmt: skip


def run_verdict_view(run: RunVerdict) -> dict:
    """The audit-level verdict as the pages and reports show it: the verdict, what it rests on, its error control."""
    judged = sum(run.counts.get(o, 0) for o in ("pass", "fail", "inconclusive"))
    return {**run.to_json(), "judged": judged}


def gap_view(gap: Gap) -> dict:
    """One gap or ratio as a plain dict: every key present (None when not judged), and its definition."""
    return {
        "metric": gap.metric, "definition": GAP_METRICS.get(gap.metric, ""), "scale": gap.scale,
        "value": gap.value, "ci": list(gap.ci), "threshold": gap.threshold, "verdict": gap.verdict,
        "n_needed": gap.n_needed, "pass_bound": gap.pass_bound, "highest": gap.highest, "lowest": gap.lowest,
    }  # fmt: skip


def evidence_document(run: AuditRun) -> bytes:
    """The evidence JSON exactly as it was hashed when the run stored it (its SHA-256 is `run.evidence_sha256`)."""
    return orjson.dumps(run.evidence, option=orjson.OPT_SORT_KEYS)


def run_results(run: AuditRun) -> dict:
    """A succeeded run's figures for its page, from the stored evidence: plain dicts, groups in their order."""
    evidence = run.evidence
    findings = findings_of(evidence)
    names = _attribute_order(evidence, findings)
    return {
        "policy": evidence["policy"],
        "data": evidence["data"],
        "labels": evidence["data"]["labels"],
        "verdict": run_verdict_view(findings.run),
        "method": method_view(evidence["policy"], findings.run.error_control),
        "warnings": list(findings.warnings),
        "verdicts": _verdicts(findings, names),
        "attributes": [_attribute(name, findings.attributes[name]) for name in names],
        "intersections": _intersections(findings.intersections),
        "cross_check": evidence["cross_check"],
        "software": evidence.get("software", {}),
        "excluded": run.excluded,
    }


def _attribute_order(evidence: dict, findings: Findings) -> list[str]:
    """The attributes in the policy's order (the stored JSON has its keys sorted)."""
    names = [a["name"] for a in evidence["policy"]["attributes"] if a["name"] in findings.attributes]
    return names + sorted(set(findings.attributes) - set(names))


def _verdicts(findings: Findings, names: list[str]) -> list[dict]:
    """The verdicts on the attributes (intersections have their own table), with what each leaves open."""
    verdicts = [
        {"grouping": v.grouping, **gap_view(v.gap), "attribute_index": names.index(v.grouping),
         "insufficient_groups": list(findings.attributes[v.grouping].insufficient_groups)}
        for v in findings.verdicts
        if v.grouping in findings.attributes
    ]  # fmt: skip
    return sorted(verdicts, key=lambda v: v["attribute_index"])


def _group(name: str, result) -> dict:
    figures = {key: result.figures[key].value if key in result.figures else None for key in GROUP_FIGURES}
    mean = result.figures.get("mean_score")
    return {"name": name, "n": result.n, "sufficient": result.sufficient, **figures,
            "mean_score_ci": list(mean.ci) if mean else None}  # fmt: skip


def _attribute(name: str, section: Section) -> dict:
    trend = section.trend
    return {
        "name": name,
        "reference": section.reference,
        "groups": [_group(group, section.groups[group]) for group in section.order],
        "gap": gap_view(section.headline),
        "gaps": [gap_view(gap) for gap in section.gaps.values()],
        "insufficient_groups": list(section.insufficient_groups),
        "impact_ratios": [
            {"group": group, **ratio.to_json()} for group in section.order
            if (ratio := section.impact_ratios.get(group)) is not None
        ],
        "unknown_rows": section.unknown_rows,
        "trend": None if trend is None else {"slope": trend.slope, "ci": list(trend.ci), "order": list(trend.order)},
    }


def _intersections(sections: dict[str, Section]) -> dict:
    judged = [{"grouping": name, **gap_view(section.headline)} for name, section in sections.items()]
    judged.sort(key=lambda gap: -1.0 if gap["value"] is None else gap["value"], reverse=True)
    too_small = [
        {"grouping": name, "group": group, "n": section.groups[group].n}
        for name, section in sections.items()
        for group in section.insufficient_groups
    ]
    return {"count": len(sections), "largest": judged[:LARGEST_INTERSECTIONS], "too_small": too_small}
