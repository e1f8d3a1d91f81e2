"""Group measures, gaps, comparisons with a reference group, trends and verdicts.

Every measure is an array over (groups, 1 + replicates): column 0 is the point estimate from the
unweighted sums, the other columns are bootstrap replicates. Formulas (per group g, sums over its items):

    mean score            sum(score) / n
    selection rate        sum(selected) / n, selected = score >= the decision threshold
    TPR, FNR              TP / P, (P - TP) / P            (P: label 1)
    FPR                   FP / N, FP = selected - TP      (N: label 0)
    precision             TP / selected
    mean absolute error   sum(|score - target|) / n
    mean signed error     sum(score - target) / n
"""

from dataclasses import dataclass

import numpy as np

from audit.fairness.spec import INTERSECTION_SEPARATOR, LABEL_METRICS, TARGET_METRICS, AuditSpec
from audit.fairness.statistics import FIXED, LIMB_BITS, LIMBS, CellStatistics

VERDICT_PASS = "pass"  # noqa: S105 - a verdict, not a password
VERDICT_FAIL = "fail"
VERDICT_INCONCLUSIVE = "inconclusive"
VERDICT_INSUFFICIENT = "insufficient"


@dataclass(frozen=True)
class Grouping:
    """The sums of one grouping (an attribute or an intersection), group by group."""

    attributes: tuple[str, ...]
    labels: list[str]  # "African-American", or "African-American & Male" for an intersection
    sums: np.ndarray  # groups x columns x (1 + replicates), float64

    @property
    def name(self) -> str:
        return INTERSECTION_SEPARATOR.join(self.attributes)


def grouping(stats: CellStatistics, attributes: tuple[str, ...]) -> Grouping:
    positions = [stats.attributes.index(a) for a in attributes]
    codes = stats.cell_codes()[:, positions]
    keys, inverse = np.unique(codes, axis=0, return_inverse=True)
    joined = np.concatenate([stats.point[:, :, None], stats.boot], axis=2)
    sums = np.zeros((len(keys), *joined.shape[1:]), dtype=np.int64)
    np.add.at(sums, inverse.ravel(), joined)
    labels = [
        INTERSECTION_SEPARATOR.join(stats.groups[p][code] for p, code in zip(positions, key, strict=True))
        for key in keys
    ]
    return Grouping(attributes, labels, sums.astype(np.float64))


def _fixed(sums: np.ndarray, layout, name: str) -> np.ndarray:
    first = layout.index(f"{name}.0")
    return sum(sums[:, first + i] * float(2 ** (LIMB_BITS * i)) for i in range(LIMBS)) / FIXED


def group_measures(g: Grouping, layout) -> dict[str, np.ndarray]:
    s = g.sums
    n = s[:, layout.index("count")]
    selected = s[:, layout.index("selected")]
    with np.errstate(divide="ignore", invalid="ignore"):
        measures = {"n": n, "mean_score": _fixed(s, layout, "score") / n, "selection_rate": selected / n}
        if layout.labels:
            positives = s[:, layout.index("positive")]
            true_positives = s[:, layout.index("true_positive")]
            negatives = n - positives
            false_positives = selected - true_positives
            measures.update(
                positives=positives,
                negatives=negatives,
                tpr=true_positives / positives,
                fnr=(positives - true_positives) / positives,
                fpr=false_positives / negatives,
                precision=true_positives / selected,
            )
        if layout.targets:
            absolute = _fixed(s, layout, "absolute_error")
            positive = _fixed(s, layout, "positive_error")
            measures.update(mean_absolute_error=absolute / n, mean_signed_error=(2 * positive - absolute) / n)
    return measures


def interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """Percentile interval of the replicates (column 1 onward); None where undefined."""
    replicates = values[1:]
    replicates = replicates[np.isfinite(replicates)]
    if len(replicates) == 0:
        return None, None
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha])
    return float(lo), float(hi)


def spread(values: np.ndarray) -> np.ndarray:
    """Highest minus lowest across groups, per replicate; NaN where fewer than two groups are defined."""
    defined = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        result = np.where(defined, values, -np.inf).max(axis=0) - np.where(defined, values, np.inf).min(axis=0)
    result[defined.sum(axis=0) < 2] = np.nan
    return result


def ratio(values: np.ndarray) -> np.ndarray:
    """Lowest over highest across groups, per replicate (the disparate impact ratio)."""
    defined = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(defined, values, np.inf).min(axis=0) / np.where(defined, values, -np.inf).max(axis=0)
    result[defined.sum(axis=0) < 2] = np.nan
    return result


def gap_values(measures: dict[str, np.ndarray], sufficient: np.ndarray) -> dict[str, np.ndarray]:
    """Each gap metric per replicate, over the groups large enough to judge."""

    def among(name):
        values = measures[name].copy()
        values[~sufficient] = np.nan
        return values

    gaps = {
        "mean_score_gap": spread(among("mean_score")),
        "selection_rate_gap": spread(among("selection_rate")),
        "disparate_impact_ratio": ratio(among("selection_rate")),
    }
    if "tpr" in measures:
        gaps["equal_opportunity_gap"] = spread(among("tpr"))
        gaps["false_positive_rate_gap"] = spread(among("fpr"))
        gaps["equalized_odds_difference"] = np.fmax(gaps["equal_opportunity_gap"], gaps["false_positive_rate_gap"])
        both_nan = np.isnan(gaps["equal_opportunity_gap"]) | np.isnan(gaps["false_positive_rate_gap"])
        gaps["equalized_odds_difference"][both_nan] = np.nan
    if "mean_absolute_error" in measures:
        gaps["mean_absolute_error_gap"] = spread(among("mean_absolute_error"))
    return gaps


def comparisons(measures: dict[str, np.ndarray], reference: int) -> dict[str, np.ndarray]:
    """Each group against the reference group (AIF360's definitions, the reference as privileged)."""
    ref = {name: values[reference] for name, values in measures.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        result = {
            "mean_score_difference": measures["mean_score"] - ref["mean_score"],
            "statistical_parity_difference": measures["selection_rate"] - ref["selection_rate"],
            "disparate_impact_ratio": measures["selection_rate"] / ref["selection_rate"],
        }
        if "tpr" in measures:
            tpr = measures["tpr"] - ref["tpr"]
            fpr = measures["fpr"] - ref["fpr"]
            result.update(
                equal_opportunity_difference=tpr,
                average_odds_difference=(fpr + tpr) / 2,
                equalized_odds_difference=np.fmax(np.abs(tpr), np.abs(fpr)),
            )
    return result


def trend(means: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Least-squares slope of the group means over the groups' positions on the scale, per replicate."""
    x = positions - positions.mean()
    return (x[:, None] * means).sum(axis=0) / (x**2).sum()


def verdict(value: float | None, ci: tuple, threshold: float, n_smallest: int) -> tuple[str, int | None]:
    """pass / fail / inconclusive, and for inconclusive the per-group size that would settle it.

    The interval's half-width on the side facing the threshold shrinks like 1/sqrt(n); the size
    that brings it inside the distance to the threshold is n * (half-width / distance)^2.
    """
    lo, hi = ci
    if value is None or lo is None:
        return VERDICT_INSUFFICIENT, None
    if hi < threshold:
        return VERDICT_PASS, None
    if lo > threshold:
        return VERDICT_FAIL, None
    distance = abs(threshold - value)
    if distance == 0:
        return VERDICT_INCONCLUSIVE, None
    half = (hi - value) if value < threshold else (value - lo)
    return VERDICT_INCONCLUSIVE, int(np.ceil(n_smallest * (half / distance) ** 2))


def metrics_the_data_cannot_support(spec: AuditSpec, labels: bool, targets: bool) -> list[tuple[str, str]]:
    problems = []
    for metric in spec.metrics:
        if metric in LABEL_METRICS and not labels:
            problems.append(("metrics", f"{metric} needs a binary ground-truth label column"))
        if metric in TARGET_METRICS and not targets:
            problems.append(("metrics", f"{metric} needs a target column"))
    return problems
