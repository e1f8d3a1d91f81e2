"""The ordinal trend: the size-weighted least-squares slope of group mean scores along the scale.

slope = sum_g n_g (x_g - x_bar)(m_g - m_bar) / sum_g n_g (x_g - x_bar)^2, x_g the group's position,
x_bar and m_bar the n-weighted means. It equals the slope of the item-level regression of score on
position. Each replicate recomputes it with that replicate's counts and means; the interval is the
slope -/+ z times the replicates' standard deviation.
"""

import numpy as np

from audit.fairness.contrasts import replicate_variance
from audit.fairness.intervals import normal as normal_interval
from audit.fairness.intervals import number, pair
from audit.fairness.measures import Grouping, Measure
from audit.fairness.results import Trend


def weighted_slope(positions: np.ndarray, means: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per column (point, replicates): the weighted least-squares slope."""
    total = weights.sum(axis=0)
    x_bar = (weights * positions[:, None]).sum(axis=0) / total
    m_bar = (weights * means).sum(axis=0) / total
    x = positions[:, None] - x_bar
    return (weights * x * (means - m_bar)).sum(axis=0) / (weights * x**2).sum(axis=0)


def trend(g: Grouping, order: tuple[str, ...], mean_score: Measure, judged: np.ndarray, confidence: float) -> Trend:
    used = [i for i in range(len(g.labels)) if judged[i]]
    present = tuple(label for label in order if label in g.labels)
    groups_used = tuple(g.labels[i] for i in used)
    if len(used) < 2:
        return Trend(present, groups_used, None, (None, None))
    positions = np.array([order.index(g.labels[i]) for i in used], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = weighted_slope(positions, mean_score.values[used], mean_score.denominator[used])
    se = float(np.sqrt(replicate_variance(slopes[None, 1:])[0]))
    slope = number(slopes[0])
    return Trend(present, groups_used, slope, pair(normal_interval(slope, se, confidence)))
