"""Each group against the reference group (AIF360's definitions, the reference as privileged).

Differences d_g = m_g - m_ref get simultaneous bands over the groups compared (one max-|t|, as for
gaps); ratios on the log scale. The averaged AIF360 figures are differences of per-group averages,
(a_g + b_g) / 2 - (a_ref + b_ref) / 2, so they get the same treatment; the figures built from absolute
values (average odds error, the larger of the two rate differences) get intervals from simultaneous bands
on the two signed differences.
"""

import math

import numpy as np

from audit.fairness.contrasts import critical_value, pairwise
from audit.fairness.intervals import number, pair
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
    return Measure((a.values + b.values) / 2, np.minimum(a.denominator, b.denominator), count=a.items)


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
            critical = critical_value(c.t_max, spec.confidence, c.degrees_of_freedom)
            if critical is not None:
                for first, d, se in zip(c.first, c.d, c.se, strict=True):
                    if not np.isfinite(se):  # a group without events: no band on the log scale
                        continue
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
    """Average odds error (|dTPR| + |dFPR|) / 2 and the larger of the two, from simultaneous bands on
    the signed differences (a percentile interval of an absolute value never reaches 0)."""
    ok = judged["tpr"] & judged["fpr"]
    with np.errstate(invalid="ignore"):
        tpr = measures["tpr"].values[:, 0] - measures["tpr"].values[reference, 0]
        fpr = measures["fpr"].values[:, 0] - measures["fpr"].values[reference, 0]
    bands = {}
    if ok[reference]:
        both = [pairwise(measures[name], ok, versus=reference) for name in ("tpr", "fpr")]
        dof = min((c.degrees_of_freedom for c in both if c.pairs), default=None)
        critical = critical_value(np.fmax(both[0].t_max, both[1].t_max), spec.confidence, dof)
        if critical is not None:
            for i, se_tpr, se_fpr in zip(both[0].first, both[0].se, both[1].se, strict=True):
                bands[int(i)] = (critical * se_tpr, critical * se_fpr)
    for i, label in enumerate(g.labels):
        if i == reference:
            continue
        sizes = (abs(tpr[i]), abs(fpr[i]))
        error, larger = (sizes[0] + sizes[1]) / 2, max(sizes)
        error_ci, larger_ci = (None, None), (None, None)
        if i in bands:
            half = bands[i]
            lows = [max(0.0, s - h) for s, h in zip(sizes, half, strict=True)]
            highs = [s + h for s, h in zip(sizes, half, strict=True)]
            error_ci = (min(sum(lows) / 2, error), max(sum(highs) / 2, error))
            larger_ci = (max(lows), max(highs))
        result[label]["average_odds_error"] = Figure(number(error), pair(error_ci))
        result[label]["equalized_odds_difference"] = Figure(number(larger), pair(larger_ci))
