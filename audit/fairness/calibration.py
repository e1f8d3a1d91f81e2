"""The expected calibration error's interval, from simultaneous bands on its ten bins.

ECE = sum over bins b of |d_b|, d_b = (sum_b(score) - sum_b(label)) / n. A percentile interval of that
sum of absolute values sits above 0 even for a perfectly calibrated model (the bias of a max or an
absolute value), so each bin's signed d_b gets a band d_b -/+ k se_b, simultaneous over the bins (one
max-|t|, as for gaps), and the interval is [sum max(0, |d_b| - k se_b), sum (|d_b| + k se_b)].
"""

import numpy as np

from audit.fairness.contrasts import critical_value, replicate_variance
from audit.fairness.measures import Grouping, _fixed
from audit.fairness.statistics import BIN_FRACTION_BITS, BIN_LIMBS, CALIBRATION_BINS, Layout


def bin_differences(g: Grouping, layout: Layout) -> np.ndarray:
    """d_b per group, bin and column (point, replicates): groups x bins x (1 + replicates)."""
    n = g.sums[:, layout.index("count")]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack(
            [(_fixed(g.sums, layout, f"bin{b}.score", BIN_LIMBS, BIN_FRACTION_BITS)
              - g.sums[:, layout.index(f"bin{b}.positive")]) / n for b in range(CALIBRATION_BINS)],
            axis=1,
        )  # fmt: skip


def ece_interval(differences: np.ndarray, n: float, confidence: float) -> tuple[float | None, float | None]:
    """The interval of one group's ECE from its bins' differences (bins x (1 + replicates))."""
    point, replicates = differences[:, 0], differences[:, 1:]
    if n < 2 or not np.isfinite(point).all():
        return None, None
    se = np.sqrt(replicate_variance(replicates) * n / (n - 1))
    deviation = np.abs(replicates - point[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(deviation == 0, 0.0, deviation / se[:, None])
    critical = critical_value(np.fmax.reduce(t, axis=0), confidence, n - 1)
    if critical is None or not np.isfinite(se).all():
        return None, None
    size = np.abs(point)
    return float(np.maximum(size - critical * se, 0).sum()), float((size + critical * se).sum())
