"""One audit: statistics -> groupings -> measures -> contrasts -> intervals and verdicts -> Findings.

Two passes: every grouping's contrasts first, so that the judged gaps of the whole run share one
max-|t| critical value (their FAIL verdicts are simultaneous), then the intervals and verdicts.
"""

import math
from dataclasses import dataclass

import numpy as np

from audit.fairness import calibration, impact, ranking
from audit.fairness.comparisons import versus_reference
from audit.fairness.contrasts import Contrasts, critical_value, gap_interval, pairwise
from audit.fairness.data import AuditData
from audit.fairness.errors import AuditInputError
from audit.fairness.intervals import number, pair, percentile, wilson
from audit.fairness.measures import Grouping, Measure, counts, group_measures, grouping
from audit.fairness.results import Figure, Findings, Gap, GroupResult, Section, Verdict
from audit.fairness.run_verdict import run_verdict
from audit.fairness.spec import (
    GAP_COMPONENTS,
    GAP_METRICS,
    HEADLINE,
    INTERSECTION_SEPARATOR,
    LABEL_METRICS,
    RATIO_METRICS,
    TARGET_METRICS,
    AuditSpec,
)
from audit.fairness.statistics import CellStatistics, Layout, cell_statistics
from audit.fairness.trend import trend
from audit.fairness.verdicts import judge

GROUP_MEASURES = (
    "mean_score", "selection_rate", "scoring_rate", "base_rate", "tpr", "fnr", "fpr", "tnr", "precision", "fdr",
    "npv", "for", "accuracy", "auc", "brier_score", "expected_calibration_error", "mean_absolute_error",
    "mean_squared_error", "mean_signed_error",
)  # fmt: skip


@dataclass(frozen=True)
class _Prepared:
    """A gap before its interval: the raw value and the contrasts behind it."""

    metric: str
    value: float | None
    contrasts: Contrasts
    highest: str | None
    lowest: str | None
    insufficient: tuple[str, ...]


@dataclass(frozen=True)
class _Grouping:
    g: Grouping
    measures: dict[str, Measure]
    judged: dict[str, np.ndarray]  # per measure, which groups are large enough to judge on it
    gaps: dict[str, _Prepared]


def metrics_the_data_cannot_support(spec: AuditSpec, labels: bool, targets: bool) -> list[tuple[str, str]]:
    problems = []
    for metric in spec.metrics:
        if metric in LABEL_METRICS and not labels:
            problems.append(("metrics", f"{metric} needs a binary ground-truth label column"))
        if metric in TARGET_METRICS and not targets:
            problems.append(("metrics", f"{metric} needs a target column"))
    return problems


def findings(
    data: AuditData, spec: AuditSpec, *, statistics: CellStatistics | None = None, threads: int = 2
) -> Findings:
    """Findings per attribute and per intersection, from `statistics` (merged shards) or computed here."""
    problems = metrics_the_data_cannot_support(spec, data.labels is not None, data.targets is not None)
    for attribute in spec.attributes:
        groups = data.attributes[attribute.name].groups
        if attribute.reference is not None and attribute.reference not in groups:
            problems.append((attribute.name, f"reference group {attribute.reference!r} has no items"))
    if problems:
        raise AuditInputError(problems)
    stats = statistics if statistics is not None else cell_statistics(data, spec, threads=threads)
    prepared = {INTERSECTION_SEPARATOR.join(names): _prepare(grouping(stats, names), stats, spec)
                for names in spec.groupings()}  # fmt: skip

    family = [p.gaps[m].contrasts for p in prepared.values() for m in spec.judged if m in p.gaps]
    family = [c for c in family if c.pairs]
    run_t = np.full(spec.replicates, np.nan)
    for c in family:
        run_t = np.fmax(run_t, c.t_max)
    dof = min((c.degrees_of_freedom for c in family), default=None)
    run_critical = critical_value(run_t, spec.confidence, dof) if family else None

    attributes, intersections, verdicts = {}, {}, []
    for name, p in prepared.items():
        section = _section(p, data, spec, run_critical, max(1, len(family)))
        (attributes if len(p.g.attributes) == 1 else intersections)[name] = section
        verdicts.extend((name, gap) for gap in section.gaps.values() if gap.judged)
    judged = tuple(Verdict(grouping_name, gap) for grouping_name, gap in verdicts)
    return Findings(attributes, intersections, judged, run_verdict(judged, spec, len(family)), _warnings(data, spec))


def audit(data: AuditData, spec: AuditSpec, *, statistics: CellStatistics | None = None, threads: int = 2) -> dict:
    """The findings as the evidence JSON's `attributes`, `intersections`, `verdicts`, `verdict`, `warnings`."""
    return findings(data, spec, statistics=statistics, threads=threads).to_json()


def _prepare(g: Grouping, stats: CellStatistics, spec: AuditSpec) -> _Grouping:
    measures = group_measures(g, stats.layout)
    n = measures["mean_score"].denominator[:, 0]
    large = (n >= spec.min_group_size) & (n >= 2)
    judged = {
        name: large & (m.denominator[:, 0] >= spec.min_group_size) if m.rate else large
        for name, m in measures.items()
    }
    gaps = {}
    for metric in GAP_METRICS:
        components = GAP_COMPONENTS[metric]
        if not all(c in measures for c in components):
            continue
        gaps[metric] = _prepare_gap(metric, components, g, measures, judged)
    return _Grouping(g, measures, judged, gaps)


def _prepare_gap(metric, components, g: Grouping, measures, judged) -> _Prepared:
    ratio = metric in RATIO_METRICS
    contrasts, value, extremes = None, None, (None, None)
    both = np.logical_and.reduce([judged[c] for c in components])  # groups judged on every component
    for component in components:
        c = pairwise(measures[component], both, log=ratio)
        contrasts = c if contrasts is None else contrasts | c
        points = np.where(both, measures[component].values[:, 0], np.nan)
        if c.pairs == 0 or not np.isfinite(points).any():
            continue
        high, low = int(np.nanargmax(points)), int(np.nanargmin(points))
        if ratio:
            if not points[high] > 0:  # every rate is 0: the ratio, and so the metric, is undefined
                return _Prepared(metric, None, _no_pairs(c), None, None, _insufficient(g, both))
            candidate = points[low] / points[high]
            better = value is None or candidate < value
        else:
            candidate = points[high] - points[low]
            better = value is None or candidate > value
        if better and np.isfinite(candidate):
            value, extremes = float(candidate), (g.labels[high], g.labels[low])
    return _Prepared(metric, value, contrasts, *extremes, _insufficient(g, both))


def _insufficient(g: Grouping, judged: np.ndarray) -> tuple[str, ...]:
    return tuple(label for label, ok in zip(g.labels, judged, strict=True) if not ok)


def _no_pairs(c: Contrasts) -> Contrasts:
    empty = np.zeros(0)
    return Contrasts(empty, empty, empty, empty, empty, empty, empty, np.full(len(c.t_max), np.nan),
                     c.undefined_replicates)


def _section(p: _Grouping, data: AuditData, spec: AuditSpec, run_critical: float | None, family: int) -> Section:
    g, measures = p.g, p.measures
    gaps = {metric: _gap(prepared, spec, run_critical, family) for metric, prepared in p.gaps.items()}
    count = counts(g, _layout_of(measures))
    reference = _reference(g, spec, count["n"], p.judged["mean_score"])
    section_trend = None
    if len(g.attributes) == 1 and spec.attribute(g.attributes[0]).ordinal:
        section_trend = trend(g, spec.attribute(g.attributes[0]).order, measures["mean_score"],
                              p.judged["mean_score"], spec.confidence)  # fmt: skip
    ratios, unknown = impact.impact_ratios(g, measures, spec.confidence)
    return Section(
        attributes=tuple(g.attributes),
        order=tuple(g.labels),
        groups=_groups(g, measures, count, p.judged, data, spec),
        insufficient_groups=tuple(label for label, s in zip(g.labels, p.judged["mean_score"], strict=True) if not s),
        reference=None if reference is None else g.labels[reference],
        gaps=gaps,
        versus_reference={} if reference is None else versus_reference(g, measures, p.judged, reference, spec),
        impact_ratios=ratios,
        unknown_rows=unknown,
        trend=section_trend,
    )


def _layout_of(measures):
    return Layout(labels="tpr" in measures, targets="mean_absolute_error" in measures)


def _gap(p: _Prepared, spec: AuditSpec, run_critical: float | None, family: int) -> Gap:
    ratio = p.metric in RATIO_METRICS
    judged = p.metric in spec.judged
    critical = run_critical if judged else critical_value(p.contrasts.t_max, spec.confidence,
                                                              p.contrasts.degrees_of_freedom)
    ci = (None, None)
    if p.value is not None and critical is not None and p.contrasts.pairs:
        low, high = gap_interval(p.contrasts, critical)
        ci = (math.exp(-high), math.exp(-low)) if ratio else (low, high)
        ci = (min(ci[0], p.value), max(ci[1], p.value))
    fields = {
        "metric": p.metric, "scale": "ratio" if ratio else "difference", "value": number(p.value), "ci": pair(ci),
        "highest": p.highest, "lowest": p.lowest, "pairs": p.contrasts.pairs, "insufficient_groups": p.insufficient,
        "undefined_replicates": p.contrasts.undefined_replicates, "critical_value": number(critical),
        "adjusted_for": family if judged else 1,
    }  # fmt: skip
    if not judged:
        return Gap(**fields)
    limit = -math.log(spec.ratio_threshold) if ratio else spec.threshold
    verdict = judge(p.contrasts, limit=limit, critical=critical if p.value is not None else None,
                    confidence=spec.confidence)  # fmt: skip
    bound = verdict.pass_bound
    if bound is not None and ratio:
        bound = math.exp(-bound)
    return Gap(**fields, threshold=spec.limit(p.metric), verdict=verdict.verdict, n_needed=verdict.n_needed,
               pass_bound=number(bound))  # fmt: skip


def _groups(g, measures, count, judged, data, spec) -> dict[str, GroupResult]:
    auc, bins = None, None
    if "tpr" in measures:
        auc = ranking.aucs(data, g.attributes, len(g.labels), spec.confidence)
        bins = calibration.bin_differences(g, _layout_of(measures))
    result = {}
    for i, label in enumerate(g.labels):
        figures, undefined = {}, {}
        for name in GROUP_MEASURES:
            if name == "auc" and auc is not None:
                figures["auc"] = Figure(number(auc[i][0]), pair(auc[i][1]))
            if name not in measures:
                continue
            m = measures[name]
            value = number(m.values[i, 0])
            if name == "expected_calibration_error":
                ci = calibration.ece_interval(bins[i], float(count["n"][i]), spec.confidence)
            elif m.rate:
                ci = wilson(m.numerator[i, 0], m.denominator[i, 0], spec.confidence) if count["n"][i] >= 2 else None
            else:
                ci = percentile(m.values[i], spec.confidence) if count["n"][i] >= 2 else None
            figures[name] = Figure(value, pair(ci or (None, None)))
            missing = int((~np.isfinite(m.values[i, 1:])).sum())
            if missing and value is not None:
                undefined[name] = missing
        result[label] = GroupResult(
            n=int(count["n"][i]),
            sufficient=bool(judged["mean_score"][i]),
            figures=figures,
            positives=int(count["positives"][i]) if "positives" in count else None,
            negatives=int(count["negatives"][i]) if "negatives" in count else None,
            undefined_replicates=undefined,
        )
    return result


def _reference(g: Grouping, spec: AuditSpec, n: np.ndarray, sufficient: np.ndarray) -> int | None:
    chosen = [spec.attribute(name).reference for name in g.attributes]
    if all(chosen):
        label = INTERSECTION_SEPARATOR.join(chosen)
        if label in g.labels:
            return g.labels.index(label)
    if not sufficient.any():
        return None
    return int(np.argmax(np.where(sufficient, n, -1)))


def _warnings(data: AuditData, spec: AuditSpec) -> tuple[str, ...]:
    warnings = list(data.warnings)
    selected = int(np.count_nonzero(data.selected))
    if not warnings and len(data) and selected in (0, len(data)):
        which = "all" if selected else "none"
        warnings.append(f"the decision threshold {spec.decision_threshold:g} selects {which} of the {len(data):,} "
                        "rows, so selection rates cannot differ between groups")  # fmt: skip
    return tuple(warnings)


def gap_metric_definitions() -> dict[str, str]:
    return dict(GAP_METRICS)


__all__ = ["HEADLINE", "audit", "findings", "gap_metric_definitions"]
