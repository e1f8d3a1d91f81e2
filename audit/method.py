"""How a run's intervals and verdicts are built, in plain words and then as the rule its evidence states.

The run page and the report's methodology section show the same text.
"""

PLAIN = (
    "Every figure is estimated from the items audited, so it carries chance error; its interval shows how large "
    "that error can be, found by recomputing the figure on many resampled copies of the data (a bootstrap). A gap "
    "is judged by comparing every pair of groups. It fails only when some pair differs by more than the threshold "
    "even at the near end of its interval. It passes only when every pair stays under the threshold even at the "
    "far end of its one-sided bound (so a pass can stand while the wider interval shown crosses the threshold). "
    "Otherwise it is inconclusive, and the note says how many items per group would settle it. A ratio (the lowest "
    "group's rate over the highest's; 0.8 is the four-fifths rule) is judged the same way against the ratio "
    "threshold: it fails when credibly below it and passes when credibly above. The intervals of every gap and "
    "ratio judged in one run are widened together, so that however many groups and metrics are judged, the chance "
    "of any false fail in the run stays within the stated level. The audit as a whole fails if any judged gap or "
    "ratio fails, and passes only when every judged one passes."
)
N_NEEDED = (
    "n_needed, given with an inconclusive verdict, is the number of items per group at which the pair of groups "
    "that decides the verdict would settle it with 80% power if its true difference were the one observed, or a "
    "fifth of the threshold away from the threshold when the observed difference is nearer than that (a "
    "difference sitting on the threshold could never be settled). It is a planning figure, not a promise."
)
LEGACY = (
    "This run was computed before the current construction: each interval is a percentile interval of its own "
    "bootstrap, the verdicts are not adjusted for one another, and the audit verdict is derived from them."
)


def method_view(policy: dict, error_control: str) -> dict:
    """The construction as a run's evidence (its `policy` block) states it, with the plain-words paragraph."""
    current = "interval_rule" in policy
    return {
        "plain": PLAIN if current else LEGACY,
        "intervals": policy["interval_rule"] if current else policy["bootstrap"]["method"],
        "verdicts": policy["verdict_rule"],
        "error_control": error_control,
        "n_needed": N_NEEDED,
    }
