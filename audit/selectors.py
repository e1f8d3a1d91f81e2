"""Reads of the audit app; other apps read runs and their results through these."""

import orjson

from audit.fairness.spec import INTERSECTION_SEPARATOR
from audit.models import AuditRun, GapResult
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
GROUP_FIGURES = ("mean_score", "mean_score_ci", "selection_rate", "tpr", "fpr", "fnr")


def evidence_document(run: AuditRun) -> bytes:
    """The evidence JSON exactly as it was hashed when the run stored it (its SHA-256 is `run.evidence_sha256`)."""
    return orjson.dumps(run.evidence, option=orjson.OPT_SORT_KEYS)


def run_results(run: AuditRun) -> dict:
    """A succeeded run's figures for its page, from the stored evidence: plain dicts, groups in their order."""
    evidence = run.evidence
    return {
        "policy": evidence["policy"],
        "data": evidence["data"],
        "labels": evidence["data"]["labels"],
        "verdicts": _verdicts(evidence),
        "attributes": [_attribute(name, evidence["attributes"][name]) for name in _attribute_order(evidence)],
        "intersections": _intersections(evidence["intersections"]),
        "cross_check": evidence["cross_check"],
        "software": evidence.get("software", {}),
        "excluded": run.excluded,
    }


def _attribute_order(evidence: dict) -> list[str]:
    """The attributes in the policy's order (the stored JSON has its keys sorted)."""
    names = [a["name"] for a in evidence["policy"]["attributes"] if a["name"] in evidence["attributes"]]
    return names + sorted(set(evidence["attributes"]) - set(names))


def _verdicts(evidence: dict) -> list[dict]:
    """The verdicts on the attributes (intersections have their own table), with what each leaves open."""
    names = _attribute_order(evidence)
    verdicts = [
        {**v, "attribute_index": names.index(v["grouping"]),
         "insufficient_groups": evidence["attributes"][v["grouping"]]["insufficient_groups"]}
        for v in evidence["verdicts"]
        if v["grouping"] in evidence["attributes"]
    ]  # fmt: skip
    return sorted(verdicts, key=lambda v: v["attribute_index"])


def _attribute(name: str, section: dict) -> dict:
    groups = [
        {"name": group, "n": section["groups"][group]["n"], "sufficient": section["groups"][group]["sufficient"],
         **{key: section["groups"][group].get(key) for key in GROUP_FIGURES}}
        for group in section["order"]
    ]  # fmt: skip
    return {
        "name": name,
        "reference": section["reference"],
        "groups": groups,
        "gap": section["mean_score_gap"],
        "gaps": [{"metric": metric, **gap} for metric, gap in section["gaps"].items()],
        "insufficient_groups": section["insufficient_groups"],
        "trend": section.get("trend"),
    }


def _intersections(sections: dict) -> dict:
    judged = [{"grouping": name, **section["mean_score_gap"]} for name, section in sections.items()]
    judged.sort(key=lambda gap: -1.0 if gap["value"] is None else gap["value"], reverse=True)
    too_small = [
        {"grouping": name, "group": group, "n": section["groups"][group]["n"]}
        for name, section in sections.items()
        for group in section["insufficient_groups"]
    ]
    return {"count": len(sections), "largest": judged[:LARGEST_INTERSECTIONS], "too_small": too_small}
