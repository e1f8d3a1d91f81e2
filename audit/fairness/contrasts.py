"""Signed differences between groups with bootstrap standard errors, and simultaneous max-|t| bands.

For a measure m and two groups i and j judged on it, d_ij = m_i - m_j (on the log scale for ratios).
Its standard error comes from the same Poisson replicates as everything else:
se_ij = sqrt(v_i + v_j), v_g the variance of group g's replicates times m / (m - 1) (the bootstrap's
plug-in variance is biased by (m - 1) / m; groups are disjoint, so their replicates are independent),
floored for a rate at the Agresti-Coull variance p~(1 - p~) / (m + 4), p~ = (x + 2) / (m + 4), so that
a rate of 0 or 1 never claims certainty; on the log scale the floor is the width of the rate's exact
(Clopper-Pearson) 95% interval on the log scale over 2 x 1.96, which is wide for a group with few events
and infinite for one with none: such a group can never make a ratio look credibly far from 1, nor
credibly close. Per replicate b,
t_ij(b) = ((m_i(b) - m_i) - (m_j(b) - m_j)) / se_ij, and T(b) = max over the pairs of |t_ij(b)|.
The c-quantile of T (c the confidence), widened from the normal to Student's t with 2(m_min - 1)
degrees of freedom for the noise of the estimated variances (m_min: the smallest group compared),
makes d_ij +/- c * se_ij simultaneous bands: with probability c every pair's true difference lies in
its band at once. One T taken over several sets of pairs (the metrics and groupings of a run) gives
bands simultaneous over all of them.
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta, norm
from scipy.stats import t as student

from audit.fairness.measures import Measure

MAX_BLOCK = 4_000_000  # elements of one replicate block (pairs x replicates), to bound memory


@dataclass(frozen=True)
class Contrasts:
    """Pairs of groups (indices into the grouping's groups), their signed differences and errors."""

    first: np.ndarray
    second: np.ndarray
    d: np.ndarray
    se: np.ndarray
    variance_n: np.ndarray  # se^2 scaled to one item per group: v_i * m_i + v_j * m_j (for n_needed)
    denominators: np.ndarray  # the smaller of the pair's denominators
    items_per_unit: np.ndarray  # items per unit of the rate's denominator (n / m; 1 for means), the pair's larger
    t_max: np.ndarray  # per replicate, max |t| over these pairs (NaN where no pair is defined)
    undefined_replicates: int  # replicates in which some pair's figure was undefined

    @property
    def pairs(self) -> int:
        return len(self.d)

    @property
    def degrees_of_freedom(self) -> float | None:
        return float(2 * (self.denominators.min() - 1)) if self.pairs else None

    def __or__(self, other: "Contrasts") -> "Contrasts":
        return Contrasts(
            *(np.concatenate([getattr(self, f), getattr(other, f)]) for f in
              ("first", "second", "d", "se", "variance_n", "denominators", "items_per_unit")),
            t_max=np.fmax(self.t_max, other.t_max),
            undefined_replicates=max(self.undefined_replicates, other.undefined_replicates),
        )  # fmt: skip


def transformed(measure: Measure, *, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """The values to compare (logs for a ratio) and each group's variance floor."""
    values = measure.values
    if not measure.rate:
        return values, np.zeros(len(values))
    m = measure.denominator[:, 0]
    x = measure.numerator[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            # A rate of 0 is taken as half a count for its logarithm; the ratio itself stays exact.
            floor_rate = 0.5 / measure.denominator
            values = np.log(np.where(np.isnan(values) | (values > 0), values, floor_rate))
            low, high = _exact_limits(x, m)
            return values, ((np.log(high) - np.log(low)) / (2 * INTERVAL_Z)) ** 2
        smoothed = (x + 2) / (m + 4)
        return values, smoothed * (1 - smoothed) / (m + 4)


INTERVAL_Z = 1.959963984540054  # a 95% interval's width, read as a standard error on the log scale


def _exact_limits(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson 95% limits of a rate x / m (0 below when x = 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, beta.ppf(0.025, np.maximum(x, 1e-12), m - x + 1), 0.0)
        high = np.where(x < m, beta.ppf(0.975, x + 1, np.maximum(m - x, 1e-12)), 1.0)
    return low, high


def pairwise(measure: Measure, judged: np.ndarray, *, log: bool = False, versus: int | None = None) -> Contrasts:
    """Contrasts between every two judged groups, or of each judged group against `versus`."""
    values, floor = transformed(measure, log=log)
    point = values[:, 0]
    replicates = values[:, 1:]
    with np.errstate(invalid="ignore"):
        deviations = replicates - point[:, None]
    m = measure.denominator[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = replicate_variance(replicates) * np.where(m > 1, m / (m - 1), np.nan)
        per_unit = np.where(m > 0, measure.items[:, 0] / m, np.nan)
    variance = np.fmax(spread, floor)

    groups = np.flatnonzero(judged)
    if versus is None:
        first, second = np.triu_indices(len(groups), k=1)
        first, second = groups[first], groups[second]
    else:
        others = groups[groups != versus]
        first, second = others, np.full(len(others), versus)
    d = point[first] - point[second]
    se = np.sqrt(variance[first] + variance[second])
    t_max = np.full(replicates.shape[1], np.nan)
    block = max(1, MAX_BLOCK // max(1, replicates.shape[1]))
    for lo in range(0, len(first), block):
        f, s = first[lo : lo + block], second[lo : lo + block]
        difference = np.abs(deviations[f] - deviations[s])
        with np.errstate(invalid="ignore", divide="ignore"):
            t = difference / se[lo : lo + block, None]
        t[difference == 0] = 0.0  # 0 / 0: neither group varies at all
        t_max = np.fmax(t_max, np.fmax.reduce(t, axis=0) if len(t) else t_max)
    used = np.unique(np.concatenate([first, second]))
    undefined = int((~np.isfinite(deviations[used])).any(axis=0).sum()) if len(used) else 0
    return Contrasts(
        first=first,
        second=second,
        d=d,
        se=se,
        variance_n=variance[first] * m[first] + variance[second] * m[second],
        denominators=np.minimum(m[first], m[second]),
        items_per_unit=np.maximum(per_unit[first], per_unit[second]),
        t_max=t_max,
        undefined_replicates=undefined,
    )


def replicate_variance(replicates: np.ndarray) -> np.ndarray:
    """Each row's variance over its finite replicates (NaN with fewer than two)."""
    finite = np.isfinite(replicates)
    k = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, replicates, 0.0).sum(axis=1) / k
        squares = np.where(finite, replicates - mean[:, None], 0.0) ** 2
        return np.where(k > 1, squares.sum(axis=1) / (k - 1), np.nan)


def critical_value(t_max: np.ndarray, confidence: float, degrees_of_freedom: float | None = None) -> float | None:
    """The confidence-quantile of the replicates' max |t|, carried from the normal to Student's t with
    `degrees_of_freedom` (t quantile at the normal probability of the bootstrap's); None when no
    replicate defines one. It is never below one pair's normal quantile."""
    finite = t_max[np.isfinite(t_max)]
    if len(finite) == 0:
        return None
    # Never below one pair's normal quantile: replicates without variation would otherwise shrink it to 0.
    critical = max(float(np.quantile(finite, confidence, method="higher")), float(norm.isf((1 - confidence) / 2)))
    if degrees_of_freedom is not None and degrees_of_freedom >= 1:
        critical = float(student.isf(norm.sf(critical), degrees_of_freedom))
    return critical


def gap_interval(c: Contrasts, critical: float) -> tuple[float, float]:
    """The interval of max |d_ij|: from the largest lower bound among pairs whose band excludes 0
    (or 0) to the largest upper bound. Each |d_ij| lies between its bounds, so the point does too."""
    size = np.abs(c.d)
    lower = size - critical * c.se
    upper = size + critical * c.se
    excluding = lower > 0
    return (float(lower[excluding].max()) if excluding.any() else 0.0), float(upper.max())
