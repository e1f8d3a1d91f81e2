"""What an audit computes: attributes, thresholds, bootstrap settings."""

from dataclasses import dataclass
from itertools import combinations

from audit.fairness.errors import AuditInputError

# Gaps between groups (highest minus lowest), on the same 0-1 scale as the scores and rates,
# so each can be held against the policy's threshold.
GAP_METRICS = {
    "mean_score_gap": "highest group mean score minus the lowest",
    "selection_rate_gap": "highest selection rate minus the lowest (demographic parity difference)",
    "equal_opportunity_gap": "highest true positive rate minus the lowest (needs labels)",
    "false_positive_rate_gap": "highest false positive rate minus the lowest (needs labels)",
    "equalized_odds_difference": "the larger of the true and false positive rate gaps (needs labels)",
    "mean_absolute_error_gap": "highest mean absolute error minus the lowest (needs a target)",
}
LABEL_METRICS = {"equal_opportunity_gap", "false_positive_rate_gap", "equalized_odds_difference"}
TARGET_METRICS = {"mean_absolute_error_gap"}
HEADLINE = "mean_score_gap"
INTERSECTION_SEPARATOR = " & "


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
