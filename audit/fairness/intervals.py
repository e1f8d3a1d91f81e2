"""Intervals of one group's figure: Wilson for rates, bootstrap percentiles for means, normal otherwise.

Every interval contains its point estimate, and none is claimed from fewer than two items.
"""

import math
from statistics import NormalDist

import numpy as np

NONE = (None, None)


def z_two_sided(confidence: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def z_one_sided(confidence: float) -> float:
    return NormalDist().inv_cdf(confidence)


def wilson(successes: float, trials: float, confidence: float) -> tuple[float | None, float | None]:
    """Wilson's score interval: (p + z^2/2m -/+ z sqrt(p(1-p)/m + z^2/4m^2)) / (1 + z^2/m)."""
    if not trials >= 1:
        return NONE
    z = z_two_sided(confidence)
    p = successes / trials
    centre = p + z * z / (2 * trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    scale = 1 + z * z / trials
    low = 0.0 if successes <= 0 else max(0.0, (centre - half) / scale)
    high = 1.0 if successes >= trials else min(1.0, (centre + half) / scale)
    return low, high


def percentile(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """Percentile interval of the replicates (values[1:]) around the point values[0], widened to reach it."""
    point = values[0]
    replicates = values[1:][np.isfinite(values[1:])]
    if not np.isfinite(point) or len(replicates) < 2:
        return NONE
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha])
    return float(min(lo, point)), float(max(hi, point))


def normal(point: float | None, se: float | None, confidence: float, *, low: float = -math.inf, high: float = math.inf):
    """point -/+ z se, cut to [low, high]."""
    if point is None or se is None or not math.isfinite(se):
        return NONE
    z = z_two_sided(confidence)
    return max(low, point - z * se), min(high, point + z * se)


def number(value) -> float | None:
    """JSON has no NaN: undefined figures are null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def pair(interval) -> tuple[float | None, float | None]:
    return tuple(number(v) for v in interval)
