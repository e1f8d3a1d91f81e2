"""Each group against the reference group (AIF360's definitions, the reference as privileged).

Differences d_g = m_g - m_ref get simultaneous bands over the groups compared (one max-|t|, as for
gaps); ratios on the log scale. The averaged AIF360 figures are differences of per-group averages,
(a_g + b_g) / 2 - (a_ref + b_ref) / 2, so they get the same treatment; the figures built from absolute
values (average odds error, the larger of the two rate differences) get percentile intervals.
"""

import math

import numpy as np

from audit.fairness.contrasts import critical_value, pairwise
from audit.fairness.intervals import number, pair, percentile
from audit.fairness.measures import Grouping, Measure
from audit.fairness.results import Figure
from audit.fairness.spec import AuditSpec

DIFFERENCES = {
    "mean_score_difference": "mean_score",
    "statistical_parity_difference": "selection_rate",
    "equal_opportunity_difference": "tpr",
    "predictive_parity_difference": "precision",
}
RATIOS = {"disparate_impact_ratio": "selection_rate"}
AVERAGES = {
    "average_odds_difference": ("fpr", "tpr"),
    "average_predictive_value_difference": ("precision", "for"),
}


def _average(measures, first, second) -> Measure:
    a, b = measures[first], measures[second]
    return Measure((a.values + b.values) / 2, np.minimum(a.denominator, b.denominator))


def versus_reference(g: Grouping, measures: dict[str, Measure], judged: dict, reference: int, spec: AuditSpec):
    result: dict[str, dict[str, Figure]] = {label: {} for i, label in enumerate(g.labels) if i != reference}
    planned = [(name, measures[m], judged[m], False) for name, m in DIFFERENCES.items() if m in measures]
    planned += [(name, measures[m], judged[m], True) for name, m in RATIOS.items() if m in measures]
    planned += [(name, _average(measures, a, b), judged[a] & judged[b], False)
                for name, (a, b) in AVERAGES.items() if a in measures]  # fmt: skip
    for name, measure, ok, log in planned:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = measure.values / measure.values[reference] if log else measure.values - measure.values[reference]
        bands = {}
        if ok[reference]:
            c = pairwise(measure, ok, log=log, versus=reference)
            critical = critical_value(c.t_max, spec.confidence)
            if critical is not None:
                for first, d, se in zip(c.first, c.d, c.se, strict=True):
                    low, high = d - critical * se, d + critical * se
                    bands[int(first)] = (math.exp(low), math.exp(high)) if log else (low, high)
        for i, label in enumerate(g.labels):
            if i == reference:
                continue
            value = number(values[i, 0])
            ci = bands.get(i, (None, None))
            if value is not None and ci[0] is not None:
                ci = (min(ci[0], value), max(ci[1], value))
            result[label][name] = Figure(value, pair(ci))
    if "tpr" in measures:
        _absolute_figures(g, measures, judged, reference, spec, result)
    return result


def _absolute_figures(g, measures, judged, reference, spec, result):
    with np.errstate(invalid="ignore"):
        tpr = measures["tpr"].values - measures["tpr"].values[reference]
        fpr = measures["fpr"].values - measures["fpr"].values[reference]
    figures = {
        "average_odds_error": (np.abs(tpr) + np.abs(fpr)) / 2,
        "equalized_odds_difference": np.fmax(np.abs(tpr), np.abs(fpr)),
    }
    ok = judged["tpr"] & judged["fpr"]
    for i, label in enumerate(g.labels):
        if i == reference:
            continue
        for name, values in figures.items():
            ci = percentile(values[i], spec.confidence) if ok[i] and ok[reference] else (None, None)
            result[label][name] = Figure(number(values[i, 0]), pair(ci))
