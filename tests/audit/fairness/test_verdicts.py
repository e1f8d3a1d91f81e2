"""Exact small cases for the gap interval and each verdict rule."""

import math

import numpy as np
import pytest

from audit.fairness.contrasts import Contrasts, gap_interval
from audit.fairness.intervals import z_one_sided
from audit.fairness.verdicts import (
    MARGIN,
    POWER,
    VERDICT_FAIL,
    VERDICT_INCONCLUSIVE,
    VERDICT_INSUFFICIENT,
    VERDICT_PASS,
    judge,
)


def contrasts(d, se, *, variance_n=None, denominators=None, per_unit=None) -> Contrasts:
    d, se = np.asarray(d, dtype=float), np.asarray(se, dtype=float)
    return Contrasts(
        first=np.arange(len(d)), second=np.arange(len(d)) + 1, d=d, se=se,
        variance_n=np.asarray(variance_n if variance_n is not None else se**2 * 100, dtype=float),
        denominators=np.asarray(denominators if denominators is not None else [100] * len(d), dtype=float),
        items_per_unit=np.ones(len(d)) if per_unit is None else np.asarray(per_unit, dtype=float),
        t_max=np.zeros(10), undefined_replicates=0,
    )  # fmt: skip


def test_the_gap_interval_runs_from_the_largest_lower_bound_that_excludes_zero_to_the_largest_upper_bound():
    c = contrasts([0.1, -0.02], [0.01, 0.02])
    # |0.1| -/+ 2 * 0.01 = [0.08, 0.12]; |-0.02| -/+ 2 * 0.02 = [-0.02, 0.06] includes 0, so only reaches up.
    assert gap_interval(c, 2.0) == pytest.approx((0.08, 0.12))


def test_the_gap_interval_starts_at_zero_when_every_band_includes_zero():
    low, high = gap_interval(contrasts([0.01, -0.005], [0.01, 0.01]), 2.0)
    assert low == 0.0 and high == pytest.approx(0.03)


def test_the_point_estimate_always_lies_in_its_interval():
    rng = np.random.default_rng(0)
    for _ in range(200):
        d, se = rng.normal(0, 0.05, 30), rng.uniform(0.001, 0.05, 30)
        low, high = gap_interval(contrasts(d, se), float(rng.uniform(1, 4)))
        assert low <= np.abs(d).max() <= high


def test_it_fails_when_some_pairs_simultaneous_lower_bound_is_over_the_threshold():
    verdict = judge(contrasts([0.1, 0.01], [0.01, 0.01]), limit=0.05, critical=2.0, confidence=0.95)
    assert verdict.verdict == VERDICT_FAIL and verdict.n_needed is None


def test_it_does_not_fail_when_the_lower_bound_only_reaches_the_threshold():
    # 0.07 - 2 * 0.01 = 0.05: not over the threshold.
    assert judge(contrasts([0.07], [0.01]), limit=0.05, critical=2.0, confidence=0.95).verdict == VERDICT_INCONCLUSIVE


def test_it_passes_when_every_pairs_one_sided_upper_bound_is_under_the_threshold():
    verdict = judge(contrasts([0.01, -0.02], [0.01, 0.01]), limit=0.05, critical=2.5, confidence=0.95)
    assert verdict.verdict == VERDICT_PASS
    assert verdict.pass_bound == pytest.approx(0.02 + z_one_sided(0.95) * 0.01)


def test_one_pair_over_its_one_sided_bound_stops_the_pass():
    verdict = judge(contrasts([0.01, 0.04], [0.01, 0.01]), limit=0.05, critical=2.5, confidence=0.95)
    assert verdict.verdict == VERDICT_INCONCLUSIVE  # 0.04 + 1.645 * 0.01 = 0.056


def test_an_inconclusive_gap_under_the_threshold_needs_the_size_that_passes_its_hardest_pair():
    c = contrasts([0.01, 0.04], [0.01, 0.01], variance_n=[0.02, 0.03], denominators=[100, 120])
    verdict = judge(c, limit=0.05, critical=2.5, confidence=0.95)
    # Only the second pair is over; its distance 0.01 is at least a fifth of 0.05.
    expected = (z_one_sided(0.95) + z_one_sided(POWER)) ** 2 * 0.03 / 0.01**2
    assert verdict.verdict == VERDICT_INCONCLUSIVE and verdict.n_needed == math.ceil(expected)


def test_an_inconclusive_gap_over_the_threshold_needs_the_size_that_fails_its_easiest_pair():
    c = contrasts([0.06, 0.08], [0.02, 0.02], variance_n=[0.04, 0.04], denominators=[100, 100])
    verdict = judge(c, limit=0.05, critical=2.5, confidence=0.95)
    # The easiest pair is 0.03 over the threshold.
    expected = (2.5 + z_one_sided(POWER)) ** 2 * 0.04 / 0.03**2
    assert verdict.verdict == VERDICT_INCONCLUSIVE and verdict.n_needed == math.ceil(expected)


def test_a_gap_on_the_threshold_is_sized_a_fifth_of_the_threshold_away_not_forever():
    # The case: a gap of 0.0504 against 0.05 used to ask for ~1.4 million per group.
    c = contrasts([0.0504], [0.0134], variance_n=[0.18], denominators=[1000])
    verdict = judge(c, limit=0.05, critical=1.96, confidence=0.95)
    expected = (1.96 + z_one_sided(POWER)) ** 2 * 0.18 / (MARGIN * 0.05) ** 2
    assert verdict.n_needed == math.ceil(expected) < 20_000


def test_n_needed_is_always_more_than_the_groups_have_now():
    c = contrasts([0.0504], [0.002], variance_n=[0.004], denominators=[5000])
    verdict = judge(c, limit=0.05, critical=30.0, confidence=0.95)
    assert verdict.verdict == VERDICT_INCONCLUSIVE and verdict.n_needed > 5000


def test_without_pairs_or_a_critical_value_the_gap_is_insufficient():
    assert judge(contrasts([], []), limit=0.05, critical=2.0, confidence=0.95).verdict == VERDICT_INSUFFICIENT
    assert judge(contrasts([0.1], [0.01]), limit=0.05, critical=None, confidence=0.95).verdict == VERDICT_INSUFFICIENT


def test_n_needed_for_a_rate_counts_items_not_positives():
    # TPR's denominator is the positives, a twentieth of the items: the items needed are twenty times the positives.
    c = contrasts([0.06, 0.08], [0.02, 0.02], variance_n=[0.04, 0.04], denominators=[150, 150], per_unit=[20, 20])
    verdict = judge(c, limit=0.05, critical=2.5, confidence=0.95)
    positives = (2.5 + z_one_sided(POWER)) ** 2 * 0.04 / 0.03**2
    assert verdict.n_needed == math.ceil(positives * 20)
