"""One audit: statistics -> groupings -> measures, gaps, intervals, verdicts -> the evidence's findings."""

import math

import numpy as np

from audit.fairness.data import AuditData
from audit.fairness.errors import AuditInputError
from audit.fairness.measures import (
    Grouping,
    comparisons,
    gap_values,
    group_measures,
    grouping,
    interval,
    metrics_the_data_cannot_support,
    trend,
    verdict,
)
from audit.fairness.spec import GAP_METRICS, HEADLINE, INTERSECTION_SEPARATOR, AuditSpec
from audit.fairness.statistics import CellStatistics, cell_statistics

GROUP_MEASURES = (
    "mean_score",
    "selection_rate",
    "tpr",
    "fpr",
    "fnr",
    "precision",
    "mean_absolute_error",
    "mean_signed_error",
)


def number(value) -> float | None:
    """JSON has no NaN: undefined figures are null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def audit(data: AuditData, spec: AuditSpec, *, statistics: CellStatistics | None = None, threads: int = 2) -> dict:
    """Findings per attribute and per intersection, from `statistics` (merged shards) or computed here."""
    problems = metrics_the_data_cannot_support(spec, data.labels is not None, data.targets is not None)
    for attribute in spec.attributes:
        groups = data.attributes[attribute.name].groups
        if attribute.reference is not None and attribute.reference not in groups:
            problems.append((attribute.name, f"reference group {attribute.reference!r} has no items"))
    if problems:
        raise AuditInputError(problems)
    stats = statistics if statistics is not None else cell_statistics(data, spec, threads=threads)
    attributes, intersections, verdicts = {}, {}, []
    for names in spec.groupings():
        section = _section(grouping(stats, names), stats, spec)
        (attributes if len(names) == 1 else intersections)[INTERSECTION_SEPARATOR.join(names)] = section
        for metric, finding in section["gaps"].items():
            if "verdict" in finding:
                verdicts.append({"grouping": INTERSECTION_SEPARATOR.join(names), "metric": metric, **finding})
    return {"attributes": attributes, "intersections": intersections, "verdicts": verdicts}


def _section(g: Grouping, stats: CellStatistics, spec: AuditSpec) -> dict:
    measures = group_measures(g, stats.layout)
    n = measures["n"][:, 0].astype(np.int64)
    sufficient = n >= spec.min_group_size
    groups = {}
    for i, label in enumerate(g.labels):
        entry = {"n": int(n[i]), "sufficient": bool(sufficient[i])}
        if "positives" in measures:
            entry["positives"] = int(measures["positives"][i, 0])
            entry["negatives"] = int(measures["negatives"][i, 0])
        for name in GROUP_MEASURES:
            if name in measures:
                entry[name] = number(measures[name][i, 0])
                entry[f"{name}_ci"] = list(interval(measures[name][i], spec.confidence))
        groups[label] = entry

    judged = set(spec.metrics) | {HEADLINE}
    gaps = {}
    for metric, values in gap_values(measures, sufficient).items():
        finding = {"value": number(values[0]), "ci": list(interval(values, spec.confidence))}
        source = _gap_source(metric)
        if source and finding["value"] is not None:
            defined = sufficient & np.isfinite(measures[source][:, 0])
            point = np.where(defined, measures[source][:, 0], np.nan)
            highest, lowest = int(np.nanargmax(point)), int(np.nanargmin(point))
            finding.update(highest=g.labels[highest], lowest=g.labels[lowest])
            n_smallest = int(min(n[highest], n[lowest]))
        else:
            n_smallest = int(n[sufficient].min()) if sufficient.any() else 0
        if metric in judged:
            outcome, n_needed = verdict(finding["value"], finding["ci"], spec.threshold, n_smallest)
            finding.update(threshold=spec.threshold, verdict=outcome, n_needed=n_needed)
        gaps[metric] = finding

    reference = _reference(g, spec, n, sufficient)
    versus = {}
    if reference is not None:
        for metric, values in comparisons(measures, reference).items():
            for i, label in enumerate(g.labels):
                if i != reference:
                    versus.setdefault(label, {})[metric] = {
                        "value": number(values[i, 0]),
                        "ci": list(interval(values[i], spec.confidence)),
                    }

    section = {
        "attributes": list(g.attributes),
        "order": list(g.labels),  # JSON objects (and PostgreSQL's jsonb) do not keep key order
        "groups": groups,
        "insufficient_groups": [label for label, s in zip(g.labels, sufficient, strict=True) if not s],
        "reference": None if reference is None else g.labels[reference],
        "mean_score_gap": gaps[HEADLINE],
        "gaps": gaps,
        "versus_reference": versus,
    }
    if len(g.attributes) == 1 and spec.attribute(g.attributes[0]).ordinal:
        section["trend"] = _trend(g, spec, measures, sufficient)
    return section


def _gap_source(metric: str) -> str | None:
    return {
        "mean_score_gap": "mean_score",
        "selection_rate_gap": "selection_rate",
        "equal_opportunity_gap": "tpr",
        "false_positive_rate_gap": "fpr",
        "mean_absolute_error_gap": "mean_absolute_error",
    }.get(metric)


def _reference(g: Grouping, spec: AuditSpec, n: np.ndarray, sufficient: np.ndarray) -> int | None:
    chosen = [spec.attribute(name).reference for name in g.attributes]
    if all(chosen):
        label = INTERSECTION_SEPARATOR.join(chosen)
        if label in g.labels:
            return g.labels.index(label)
    if not sufficient.any():
        return None
    return int(np.argmax(np.where(sufficient, n, -1)))


def _trend(g: Grouping, spec: AuditSpec, measures: dict, sufficient: np.ndarray) -> dict:
    order = spec.attribute(g.attributes[0]).order
    used = [i for i, label in enumerate(g.labels) if sufficient[i]]
    result = {
        "order": [label for label in order if label in g.labels],
        "groups_used": [g.labels[i] for i in used],
        "definition": "least-squares slope of group mean scores per step along the ordered groups",
    }
    if len(used) < 2:
        return {**result, "slope": None, "ci": [None, None]}
    positions = np.array([order.index(g.labels[i]) for i in used], dtype=np.float64)
    slopes = trend(measures["mean_score"][used], positions)
    return {**result, "slope": number(slopes[0]), "ci": list(interval(slopes, spec.confidence))}


def gap_metric_definitions() -> dict[str, str]:
    return dict(GAP_METRICS)
