"""What an audit computes: attributes, metrics, thresholds, bootstrap settings."""

from dataclasses import dataclass
from itertools import combinations

from audit.fairness.errors import AuditInputError

# Gaps between groups (the largest absolute difference over pairs of groups, i.e. highest minus lowest),
# on the same 0-1 scale as the scores and rates, so each can be held against the policy's threshold.
DIFFERENCE_METRICS = {
    "mean_score_gap": "highest group mean score minus the lowest",
    "selection_rate_gap": "highest selection rate minus the lowest (demographic parity difference)",
    "equal_opportunity_gap": "highest true positive rate minus the lowest (needs labels)",
    "false_positive_rate_gap": "highest false positive rate minus the lowest (needs labels)",
    "equalized_odds_difference": "the larger of the true and false positive rate gaps (needs labels)",
    "predictive_parity_gap": "highest precision (positive predictive value) minus the lowest (needs labels)",
    "mean_absolute_error_gap": "highest mean absolute error minus the lowest (needs a target)",
}
# Ratios of the lowest group's rate to the highest, judged against the ratio threshold (0.8: four-fifths).
RATIO_METRICS = {
    "disparate_impact_ratio": "lowest selection rate over the highest (the four-fifths rule)",
    "true_positive_rate_ratio": "lowest true positive rate over the highest (equal opportunity ratio; needs labels)",
    "false_positive_rate_ratio": "lowest false positive rate over the highest (needs labels)",
    "equalized_odds_ratio": "the smaller of the true and false positive rate ratios (needs labels)",
    "precision_ratio": "lowest precision over the highest (predictive parity ratio; needs labels)",
}
GAP_METRICS = {**DIFFERENCE_METRICS, **RATIO_METRICS}
# Which per-group measures each gap compares, pair by pair.
GAP_COMPONENTS = {
    "mean_score_gap": ("mean_score",),
    "selection_rate_gap": ("selection_rate",),
    "equal_opportunity_gap": ("tpr",),
    "false_positive_rate_gap": ("fpr",),
    "equalized_odds_difference": ("tpr", "fpr"),
    "predictive_parity_gap": ("precision",),
    "mean_absolute_error_gap": ("mean_absolute_error",),
    "disparate_impact_ratio": ("selection_rate",),
    "true_positive_rate_ratio": ("tpr",),
    "false_positive_rate_ratio": ("fpr",),
    "equalized_odds_ratio": ("tpr", "fpr"),
    "precision_ratio": ("precision",),
}
LABEL_METRICS = {
    "equal_opportunity_gap",
    "false_positive_rate_gap",
    "equalized_odds_difference",
    "predictive_parity_gap",
    "true_positive_rate_ratio",
    "false_positive_rate_ratio",
    "equalized_odds_ratio",
    "precision_ratio",
}
TARGET_METRICS = {"mean_absolute_error_gap"}
HEADLINE = "mean_score_gap"
INTERSECTION_SEPARATOR = " & "
FOUR_FIFTHS = 0.8


@dataclass(frozen=True)
class AttributeSpec:
    """One protected attribute: its column, its groups in scale order when ordinal, its reference group."""

    name: str
    order: tuple[str, ...] | None = None
    reference: str | None = None

    @property
    def ordinal(self) -> bool:
        return self.order is not None


@dataclass(frozen=True)
class AuditSpec:
    attributes: tuple[AttributeSpec, ...]
    threshold: float = 0.05
    ratio_threshold: float = FOUR_FIFTHS
    confidence: float = 0.95
    replicates: int = 1000
    seed: int = 0
    min_group_size: int = 30
    decision_threshold: float = 0.5
    metrics: tuple[str, ...] = (HEADLINE,)
    intersections: bool = True

    def __post_init__(self):
        problems = []
        if not self.attributes:
            problems.append(("attributes", "name at least one attribute"))
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            problems.append(("attributes", f"an attribute is named twice: {names}"))
        if not 0 < self.threshold < 1:
            problems.append(("threshold", f"{self.threshold} must be between 0 and 1"))
        if not 0 < self.ratio_threshold < 1:
            problems.append(("ratio_threshold", f"{self.ratio_threshold} must be between 0 and 1 (0.8: four-fifths)"))
        if not 0.5 <= self.confidence < 1:
            problems.append(("confidence", f"{self.confidence} must be at least 0.5 and under 1"))
        if not 1 <= self.replicates <= 100_000:
            problems.append(("bootstrap", f"{self.replicates} replicates: use 1 to 100,000"))
        if not 0 <= self.seed < 2**63:
            problems.append(("seed", f"{self.seed} must be a non-negative 64-bit integer"))
        if self.min_group_size < 1:
            problems.append(("min_group_size", f"{self.min_group_size} must be at least 1"))
        unknown = [m for m in self.metrics if m not in GAP_METRICS]
        if unknown or not self.metrics:
            problems.append(("metrics", f"unknown metric(s) {unknown}; choose from {sorted(GAP_METRICS)}"))
        if problems:
            raise AuditInputError(problems)

    @property
    def judged(self) -> tuple[str, ...]:
        """The metrics given a verdict: the policy's, and always the headline mean score gap."""
        return tuple(dict.fromkeys((HEADLINE, *self.metrics)))

    def limit(self, metric: str) -> float:
        return self.ratio_threshold if metric in RATIO_METRICS else self.threshold

    def groupings(self) -> list[tuple[str, ...]]:
        """Each attribute alone, then every intersection of two or more, in the policy's order."""
        names = [a.name for a in self.attributes]
        result = [(name,) for name in names]
        if self.intersections:
            for size in range(2, len(names) + 1):
                result.extend(combinations(names, size))
        return result

    def attribute(self, name: str) -> AttributeSpec:
        return next(a for a in self.attributes if a.name == name)
