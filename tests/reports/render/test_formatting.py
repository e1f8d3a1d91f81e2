"""How the report writes its figures."""

from reports.render.formatting import count, interval, level, number, percent, rate, small, verdict_label, when


def test_gaps_and_means_carry_four_decimals_and_none_is_a_dash():
    assert number(0.10789) == "0.1079"
    assert number(None) == "\u2014"


def test_intervals_are_bracketed_and_an_interval_without_bounds_is_a_dash():
    assert interval([0.08, 0.13634]) == "[0.0800, 0.1363]"
    assert interval([None, None]) == "\u2014"
    assert interval([None, 0.2]) == "[\u2014, 0.2000]"


def test_counts_have_thousands_separators():
    assert count(5702) == "5,702"


def test_thresholds_keep_every_decimal_they_have():
    assert level(0.05) == "0.05"
    assert level(0.5) == "0.50"
    assert level(0.025) == "0.025"


def test_rates_shares_and_small_differences():
    assert rate(0.41234) == "0.412"
    assert percent(3909 / 3960) == "98.7%"
    assert small(9.57e-11) == "9.6e-11"
    assert small(1e-9) == "1e-09"


def test_verdicts_and_times_read_as_words():
    assert verdict_label("inconclusive") == "Inconclusive"
    assert verdict_label("") == "Not judged"
    assert when("2026-11-25T10:00:00+00:00") == "25 Nov 2026, 10:00 UTC"
    assert when("not a time") == "not a time"
