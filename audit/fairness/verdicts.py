"""Verdicts on a gap, from simultaneous bands (FAIL) and intersection-union one-sided bounds (PASS).

- FAIL when some pair's simultaneous lower bound of |d_ij| is over the limit: with the run's critical
  value (one max-|t| over every pair of every judged grouping and metric), the chance of any false FAIL
  in the whole run is at most 1 - confidence.
- PASS when every pair's one-sided upper bound |d_ij| + z se_ij is under the limit (z: the one-sided
  normal quantile at the confidence). A pass needs every pair to pass, so its chance of being false is at
  most 1 - confidence for each verdict without any adjustment (an intersection-union test).
- INCONCLUSIVE otherwise, with n_needed: the per-group size at which the deciding pair would settle with
  80% power if its true difference were the observed one, or a fifth of the limit away from the limit
  when the observation is nearer (a gap sitting on the threshold can never be settled). With every group
  at m units of the figure's denominator, se_ij^2 = (v_i m_i + v_j m_j) / m, so
  m = (k + z_power)^2 (v_i m_i + v_j m_j) / distance^2; for a rate whose denominator is a share of the items
  (positives for TPR), n_needed counts items: m times the pair's larger n / m.

Ratios are judged on the log scale: the ratio min/max is exp(-max |log r_i - log r_j|) and its limit
-log(ratio threshold).
"""

import math
from dataclasses import dataclass

import numpy as np

from audit.fairness.contrasts import Contrasts
from audit.fairness.intervals import z_one_sided

VERDICT_PASS = "pass"  # noqa: S105 - a verdict, not a password
VERDICT_FAIL = "fail"
VERDICT_INCONCLUSIVE = "inconclusive"
VERDICT_INSUFFICIENT = "insufficient"
POWER = 0.8
MARGIN = 0.2


@dataclass(frozen=True)
class Judgement:
    verdict: str
    pass_bound: float | None  # the largest one-sided upper bound of |d_ij| (on the contrast's scale)
    n_needed: int | None


def judge(c: Contrasts, *, limit: float, critical: float | None, confidence: float) -> Judgement:
    """The verdict of max |d_ij| against `limit` (on the contrasts' own scale)."""
    if c.pairs == 0 or critical is None:
        return Judgement(VERDICT_INSUFFICIENT, None, None)
    size = np.abs(c.d)
    one_sided = z_one_sided(confidence)
    pass_bounds = size + one_sided * c.se
    pass_bound = float(pass_bounds.max())
    if ((size - critical * c.se) > limit).any():
        return Judgement(VERDICT_FAIL, pass_bound, None)
    if pass_bound < limit:
        return Judgement(VERDICT_PASS, pass_bound, None)
    return Judgement(VERDICT_INCONCLUSIVE, pass_bound, _n_needed(c, size, pass_bounds, limit, critical, one_sided))


def _n_needed(c, size, pass_bounds, limit, critical, one_sided) -> int | None:
    power = z_one_sided(POWER)
    distance = np.maximum(np.abs(size - limit), MARGIN * limit)
    # In units of the rate's denominator (positives for TPR, say), then in items: n / m items per unit.
    units = c.variance_n / distance**2
    if size.max() > limit:  # settled by the easiest pair to show over the limit
        deciding = np.flatnonzero(size > limit)
        needed = (critical + power) ** 2 * units[deciding] * c.items_per_unit[deciding]
        pick = deciding[int(np.argmin(needed))]
    else:  # settled when the hardest pair still over the limit passes
        deciding = np.flatnonzero(pass_bounds >= limit)
        needed = (one_sided + power) ** 2 * units[deciding] * c.items_per_unit[deciding]
        pick = deciding[int(np.argmax(needed))]
    n = float(needed.min() if size.max() > limit else needed.max())
    now = float(c.denominators[pick] * c.items_per_unit[pick])
    if not math.isfinite(n):
        return None
    return int(max(math.ceil(n), now + 1))
