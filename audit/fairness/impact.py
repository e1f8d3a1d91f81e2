"""NYC Local Law 144 impact ratios: each category's selection (or scoring) rate over the highest.

Categories with under 2% of the rows are left out of the ratios (the rules allow it) but still listed
with their n and rate; a category named as unknown ("unknown", "not disclosed", ...) is counted as rows
of unknown category and left out too. The intervals of the ratios are simultaneous over the categories,
on the log scale, from the same replicates, and allow for the highest category being chosen from the
data. For continuous scores the scoring rate is the share of a category scoring above the whole
sample's median.
"""

import math

import numpy as np

from audit.fairness.contrasts import critical_value, pairwise
from audit.fairness.intervals import number, pair
from audit.fairness.measures import Grouping, Measure
from audit.fairness.results import ImpactRatio
from audit.fairness.spec import INTERSECTION_SEPARATOR

SMALL_SHARE = 0.02
UNKNOWN = {"unknown", "not known", "not disclosed", "not reported", "prefer not to say", "undisclosed"}
SMALL = "under 2% of the rows: listed, not used in the ratios"
UNKNOWN_CATEGORY = "unknown category: counted, not used in the ratios"
HIGHEST = "the highest rate: the other categories' ratios are taken against it"


def is_unknown(label: str) -> bool:
    return any(part.strip().lower() in UNKNOWN for part in label.split(INTERSECTION_SEPARATOR))


def _ratios(measure: Measure, included: np.ndarray, confidence: float):
    """Per included group (value, ci) against the highest included rate; the highest's index.

    The highest category is itself chosen from the data, so each interval comes from bands over every
    pair: log(r_g / max_h r_h) = min_h (log r_g - log r_h) lies in [min_h L_gh, min(0, min_h U_gh)].
    """
    points = np.where(included, measure.values[:, 0], np.nan)
    if not np.isfinite(points).any() or np.nanmax(points) <= 0:
        return {}, None
    top = int(np.nanargmax(points))
    c = pairwise(measure, included, log=True)
    critical = critical_value(c.t_max, confidence, c.degrees_of_freedom)
    groups = np.flatnonzero(included)
    low = np.full(len(points), np.inf)
    high = np.zeros(len(points))
    if critical is not None:
        with np.errstate(invalid="ignore"):
            for ends, d in ((c.first, c.d), (c.second, -c.d)):  # log r_g - log r_h, for both ends of a pair
                np.minimum.at(low, ends, d - critical * c.se)
                np.minimum.at(high, ends, d + critical * c.se)
    result = {}
    for g in groups:
        value = float(points[g] / points[top])
        ci = (None, None)
        if critical is not None and c.pairs:
            ci = (min(math.exp(low[g]), value), max(math.exp(high[g]), value))
        result[int(g)] = (value, ci)
    return result, top


def impact_ratios(g: Grouping, measures: dict[str, Measure], confidence: float):
    n = measures["selection_rate"].denominator[:, 0]
    unknown = np.array([is_unknown(label) for label in g.labels])
    small = n < SMALL_SHARE * n.sum()
    included = ~unknown & ~small
    selection, top = _ratios(measures["selection_rate"], included, confidence)
    scoring, scoring_top = _ratios(measures["scoring_rate"], included, confidence)
    result = {}
    for i, label in enumerate(g.labels):
        reason = UNKNOWN_CATEGORY if unknown[i] else SMALL if small[i] else HIGHEST if i == top else None
        value, ci = selection.get(i, (None, (None, None)))
        s_value, s_ci = scoring.get(i, (None, (None, None)))
        result[label] = ImpactRatio(
            n=int(n[i]),
            selection_rate=number(measures["selection_rate"].values[i, 0]),
            value=number(value),
            ci=pair(ci),
            excluded=bool(not included[i]),
            scoring_rate=number(measures["scoring_rate"].values[i, 0]),
            scoring_impact_ratio=number(s_value),
            scoring_impact_ratio_ci=pair(s_ci),
            reason=reason,
        )
    return result, int(n[unknown].sum())
