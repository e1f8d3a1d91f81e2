import numpy as np
import pytest
from scipy.stats import norm

from audit.fairness.intervals import normal, percentile, wilson, z_one_sided, z_two_sided


def test_the_wilson_interval_of_no_successes_in_ten_reaches_0_2775():
    low, high = wilson(0, 10, 0.95)
    assert low == 0.0 and high == pytest.approx(0.27754, abs=1e-5)


def test_the_wilson_interval_is_symmetric_around_a_half():
    low, high = wilson(50, 100, 0.95)
    assert low == pytest.approx(1 - high) and low < 0.5 < high


def test_a_rate_without_a_denominator_has_no_interval():
    assert wilson(0, 0, 0.95) == (None, None)


def test_a_percentile_interval_needs_two_replicates_and_reaches_its_point():
    assert percentile(np.array([0.5, np.nan, 0.4]), 0.95) == (None, None)
    low, high = percentile(np.array([0.9, 0.1, 0.2, 0.3, 0.4]), 0.95)
    assert low < 0.2 and high == 0.9


def test_normal_intervals_are_cut_to_their_range():
    assert normal(0.99, 0.05, 0.95, high=1.0)[1] == 1.0
    assert normal(None, 0.1, 0.95) == (None, None)


def test_the_quantiles_are_the_normal_ones():
    assert z_two_sided(0.95) == pytest.approx(norm.ppf(0.975))
    assert z_one_sided(0.95) == pytest.approx(norm.ppf(0.95))
