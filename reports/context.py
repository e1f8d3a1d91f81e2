"""Build the plain context dict that `reports.render` turns into the quarterly report."""

from importlib.metadata import version

from django.conf import settings
from django.utils import timezone

from audit.fairness import GAP_METRICS
from audit.fairness.results import Findings, Gap, Section
from audit.fairness.spec import HEADLINE
from audit.method import method_view
from audit.models import AuditRun
from audit.selectors import findings_of, latest_run_of_model_name, run_verdict_view
from scoring.selectors import member_provenance

LARGEST_INTERSECTIONS = 10
THRESHOLD_NOTE = (
    "Thresholds are chosen by the provider: a gap is judged against the policy's threshold, "
    "not against a legal standard."
)


def previous_quarters(quarter: str, count: int = 4) -> list[str]:
    """The `count` quarters ending with `quarter`, oldest first."""
    year, q = int(quarter[:4]), int(quarter[-1])
    result = []
    for _ in range(count):
        result.append(f"{year}-Q{q}")
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return result[::-1]


def code_version() -> str:
    return version("bias-audit-platform")


def build_context(*, report_id: str, quarter: str, runs: list[AuditRun], status: str, signoff: list[dict],
                  comments: list[dict], affected_reports: list[dict]) -> dict:  # fmt: skip
    models = sorted({f"{r.model_version.name} {r.model_version.version}" for r in runs})
    return {
        "report": {
            "id": report_id, "quarter": quarter, "title": "Quarterly bias report", "status": status,
            "generated_at": timezone.now().isoformat(timespec="seconds"), "code_version": code_version(),
        },  # fmt: skip
        "organisation": {
            "name": settings.ORGANISATION_NAME,
            "contact": settings.ORGANISATION_CONTACT,
            "address": settings.ORGANISATION_ADDRESS,
        },
        "system": {
            "name": ", ".join(models),
            "description": f"scoring model(s) audited for {quarter}: {len(runs)} audit run(s)",
        },
        "summary": [line for run in runs for line in _summary(run)],
        "threshold_note": THRESHOLD_NOTE,
        "runs": [_run(run) for run in runs],
        "trend": [trend for run in runs for trend in _trends(run, quarter)],
        "governance": {
            "evaluation_sets": [_governance(run) for run in runs],
            "withdrawn_since_approval": affected_reports,
        },
        "methodology": _methodology(runs),
        "signoff": signoff,
        "findings_comments": comments,
    }


def _model_label(run: AuditRun) -> str:
    return f"{run.model_version.name} {run.model_version.version}"


def _summary(run: AuditRun) -> list[dict]:
    return summary_lines(findings_of(run.evidence), _model_label(run))


def summary_lines(findings: Findings, model: str) -> list[dict]:
    """Every verdict on an attribute (the mean score gap first, then the policy's other gaps and ratios)."""
    lines = []
    for name in findings.attributes:
        verdicts = [v for v in findings.verdicts if v.grouping == name]
        verdicts.sort(key=lambda v: v.gap.metric != HEADLINE)
        lines.extend({"model": model, "attribute": name, "metric": v.gap.metric, **_gap(v.gap)} for v in verdicts)
    return lines


def _gap(gap: Gap) -> dict:
    return {
        "value": gap.value,
        "ci": list(gap.ci),
        "threshold": gap.threshold,
        "verdict": gap.verdict or "",
        "n_needed": gap.n_needed,
        "highest": gap.highest,
        "lowest": gap.lowest,
        "scale": gap.scale,
        "pass_bound": gap.pass_bound,
    }


def _run(run: AuditRun) -> dict:
    policy = run.policy
    meta = {
        "id": run.pk,
        "period": run.period,
        "model": {"name": run.model_version.name, "version": run.model_version.version,
                  "sha256": run.model_version.artifact_sha256},
        "evaluation_set": {"name": run.evaluation_set.name, "manifest_sha256": run.evaluation_set.manifest_sha256},
        "policy": {"name": policy.name, "version": policy.version, "threshold": policy.threshold,
                   "ratio_threshold": policy.ratio_threshold, "confidence": policy.confidence,
                   "replicates": policy.replicates, "seed": policy.seed, "min_group_size": policy.min_group_size,
                   "decision_threshold": policy.decision_threshold},
        "score_artifact_sha256": run.score_artifact.sha256,
        "evidence_sha256": run.evidence_sha256,
        "excluded": run.excluded,
    }  # fmt: skip
    return run_section(run.evidence, meta)


def run_section(evidence: dict, meta: dict) -> dict:
    """One audit's figures for the report, from its evidence JSON and what identifies it (`meta`)."""
    findings = findings_of(evidence)
    return {
        **meta,
        "labels": evidence["data"]["labels"],
        "verdict": run_verdict_view(findings.run),
        "warnings": list(findings.warnings),
        "attributes": [_attribute(name, section) for name, section in findings.attributes.items()],
        "intersections": _intersections(findings.intersections),
        "cross_check": {key: evidence["cross_check"][key]
                        for key in ("libraries", "compared", "largest_difference", "tolerance", "passed")},
    }  # fmt: skip


def file_context(evidence: dict, *, report_id: str, quarter: str, evidence_sha256: str) -> dict:
    """The report of a one-shot `audit_file` audit: no registry, so no governance section figures."""
    source, policy = evidence["source"], evidence["policy"]
    meta = {
        "id": 0,
        "period": quarter,
        "model": {"name": source["file"], "version": "precomputed scores", "sha256": source["sha256"]},
        "evaluation_set": {"name": source["file"], "manifest_sha256": source["sha256"]},
        "policy": {"name": "audit_file", "version": 0, "threshold": policy["threshold"],
                   "ratio_threshold": policy.get("ratio_threshold"), "confidence": policy["confidence"],
                   "replicates": policy["bootstrap"]["replicates"], "seed": policy["bootstrap"]["seed"],
                   "min_group_size": policy["min_group_size"], "decision_threshold": policy["decision_threshold"]},
        "score_artifact_sha256": source["sha256"],
        "evidence_sha256": evidence_sha256,
        "excluded": {},
    }  # fmt: skip
    section = run_section(evidence, meta)
    findings = findings_of(evidence)
    label = f"{source['file']} (precomputed scores)"
    return {
        "report": {"id": report_id, "quarter": quarter, "title": "Bias audit of a score file", "status": "draft",
                   "generated_at": timezone.now().isoformat(timespec="seconds"), "code_version": code_version()},
        "organisation": {"name": settings.ORGANISATION_NAME, "contact": settings.ORGANISATION_CONTACT,
                         "address": settings.ORGANISATION_ADDRESS},
        "system": {"name": label, "description": f"{evidence['data']['items']:,} scored rows audited with audit_file"},
        "summary": summary_lines(findings, label),
        "threshold_note": THRESHOLD_NOTE,
        "runs": [section],
        "trend": [
            {"model": label, "attribute": name, "threshold": policy["threshold"],
             "points": [{"quarter": quarter, "value": s.headline.value, "ci": list(s.headline.ci),
                         "verdict": s.headline.verdict or ""}]}
            for name, s in findings.attributes.items()
        ],
        "governance": {"evaluation_sets": [], "withdrawn_since_approval": []},
        "methodology": _methodology_of([evidence], [policy["bootstrap"]["seed"]]),
        "signoff": [{"action": "generated", "by": "audit_file", "role": "-",
                     "at": source.get("audited_at", ""), "comment": "one-shot audit of a score file"}],
        "findings_comments": [],
    }  # fmt: skip


def _attribute(name: str, section: Section) -> dict:
    groups = []
    for group in section.order:
        result = section.groups[group]

        def value(figure: str, result=result):
            return result.figures[figure].value if figure in result.figures else None

        mean = result.figures["mean_score"]
        groups.append(
            {"name": group, "n": result.n, "sufficient": result.sufficient, "mean_score": mean.value,
             "mean_score_ci": list(mean.ci), "selection_rate": value("selection_rate"), "tpr": value("tpr"),
             "fpr": value("fpr"), "fnr": value("fnr")}
        )  # fmt: skip
    trend = section.trend
    return {
        "name": name,
        "reference": section.reference,
        "groups": groups,
        "gap": _gap(section.headline),
        "trend": None if trend is None else {"slope": trend.slope, "ci": list(trend.ci), "order": list(trend.order)},
    }


def _intersections(sections: dict[str, Section]) -> dict:
    gaps = [
        {"grouping": name, **{k: v for k, v in _gap(section.headline).items() if k != "n_needed"}}
        for name, section in sections.items()
    ]
    gaps.sort(key=lambda g: -1.0 if g["value"] is None else g["value"], reverse=True)
    too_small = [
        {"grouping": name, "group": group, "n": section.groups[group].n}
        for name, section in sections.items()
        for group in section.insufficient_groups
    ]
    return {"largest": gaps[:LARGEST_INTERSECTIONS], "too_small": too_small}


def _trends(run: AuditRun, quarter: str) -> list[dict]:
    name = run.model_version.name
    earlier = {q: (run if q == quarter else latest_run_of_model_name(q, name)) for q in previous_quarters(quarter)}
    sections = {q: findings_of(past.evidence).attributes if past else {} for q, past in earlier.items()}
    trends = []
    for attribute in sections[quarter]:
        points = []
        for q in earlier:
            section = sections[q].get(attribute)
            gap = section.headline if section else None
            points.append(
                {"quarter": q, "value": gap.value if gap else None, "ci": list(gap.ci) if gap else [None, None],
                 "verdict": (gap.verdict or "") if gap else ""}
            )  # fmt: skip
        trends.append({"model": name, "attribute": attribute, "threshold": run.policy.threshold, "points": points})
    return trends


def _governance(run: AuditRun) -> dict:
    evaluation_set = run.evaluation_set
    members = evaluation_set.members.count()
    audited = run.evidence["data"]["items"]
    excluded = dict(evaluation_set.report.get("excluded", {}))
    for reason, count in run.excluded.items():
        excluded[reason] = excluded.get(reason, 0) + count
    return {
        "name": evaluation_set.name,
        "members": members,
        "audited": audited,
        "consent_coverage": audited / members if members else 0.0,
        "excluded": excluded,
        "strata": [
            {"stratum": s["stratum"], "available": s["available"], "eligible": s["eligible"], "drawn": s["drawn"]}
            for s in evaluation_set.report.get("strata", [])
        ],
        "provenance": member_provenance(evaluation_set),
    }


def _methodology(runs: list[AuditRun]) -> dict:
    return _methodology_of([run.evidence for run in runs], sorted({run.policy.seed for run in runs}))


def _methodology_of(evidences: list[dict], seeds: list[int]) -> dict:
    first = evidences[0] if evidences else None
    libraries = dict(first["software"]) if first else {}
    libraries["torch"] = version("torch")
    libraries["weasyprint"] = version("weasyprint")
    method = method_view(first["policy"], findings_of(first).run.error_control) if first else None
    return {
        "metrics": dict(GAP_METRICS),
        "plain": method["plain"] if method else "",
        "bootstrap": first["policy"]["bootstrap"]["weights"] if first else "",
        "interval_rule": method["intervals"] if method else "",
        "verdict_rule": method["verdicts"] if method else "",
        "n_needed": method["n_needed"] if method else "",
        "libraries": libraries,
        "seeds": seeds,
        "notes": [
            "Groups under the policy's minimum size are reported but not judged; on a rate, a group is judged only "
            "when the rate's denominator (positives for TPR, negatives for FPR, selected items for precision) "
            "reaches the minimum too.",
            "A figure that a bootstrap replicate leaves undefined (a rate of a group with no positives in that "
            "replicate) is counted and disclosed in the evidence as undefined_replicates, never silently dropped.",
            "Evaluation sets hold only items whose subjects consented to evaluation at the snapshot; consent is "
            "checked again when each run starts, and later withdrawals are excluded and counted.",
        ],
    }
