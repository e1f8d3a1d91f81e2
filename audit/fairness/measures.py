"""Group measures: each an array over (groups, 1 + replicates) whose column 0 is the point estimate
from the unweighted sums and whose other columns are bootstrap replicates.

Formulas per group g (sums over its items; P, N: label 1 and 0; S: selected, U = n - S unselected;
TP, FP = S - TP, FN = P - TP, TN = N - FP):

    mean score                 sum(score) / n
    selection rate             S / n                  (selected: score >= the decision threshold)
    scoring rate               #(score > the whole sample's median) / n   (NYC LL144, continuous scores)
    base rate                  P / n
    TPR, FNR                   TP / P, FN / P
    FPR, TNR                   FP / N, TN / N
    precision (PPV), FDR       TP / S, FP / S
    NPV, FOR                   TN / U, FN / U
    accuracy                   (TP + TN) / n
    Brier score                sum((score - label)^2) / n
    expected calibration error sum over ten equal-width score bins b of |sum_b(score) - sum_b(label)| / n
    mean absolute error        sum(|score - target|) / n
    mean squared error         sum((score - target)^2) / n
    mean signed error          sum(score - target) / n
"""

from dataclasses import dataclass

import numpy as np

from audit.fairness.spec import INTERSECTION_SEPARATOR
from audit.fairness.statistics import (
    BIN_FRACTION_BITS,
    BIN_LIMBS,
    CALIBRATION_BINS,
    FRACTION_BITS,
    LIMB_BITS,
    LIMBS,
    CellStatistics,
    Layout,
)


@dataclass(frozen=True)
class Grouping:
    """The sums of one grouping (an attribute or an intersection), group by group."""

    attributes: tuple[str, ...]
    labels: list[str]  # "African-American", or "African-American & Male" for an intersection
    sums: np.ndarray  # groups x columns x (1 + replicates), float64

    @property
    def name(self) -> str:
        return INTERSECTION_SEPARATOR.join(self.attributes)


@dataclass(frozen=True)
class Measure:
    """One figure per group and replicate; a rate also carries its numerator and denominator counts."""

    values: np.ndarray  # groups x (1 + replicates)
    denominator: np.ndarray  # groups x (1 + replicates): n for a mean, the rate's denominator for a rate
    numerator: np.ndarray | None = None  # rates only
    count: np.ndarray | None = None  # the groups' items (n) where the denominator is another count

    @property
    def items(self) -> np.ndarray:
        return self.denominator if self.count is None else self.count

    @property
    def rate(self) -> bool:
        return self.numerator is not None


RATES = ("selection_rate", "scoring_rate", "base_rate", "tpr", "fnr", "fpr", "tnr", "precision", "fdr", "npv",
         "for", "accuracy")  # fmt: skip


def grouping(stats: CellStatistics, attributes: tuple[str, ...]) -> Grouping:
    positions = [stats.attributes.index(a) for a in attributes]
    codes = stats.codes[:, positions]
    keys, inverse = np.unique(codes, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    joined = np.concatenate([stats.point[:, :, None], stats.boot], axis=2)
    order = np.argsort(inverse, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0]) if len(order) else np.zeros(0, dtype=int)
    sums = np.add.reduceat(joined[order], starts, axis=0) if len(order) else joined[:0]
    labels = [
        INTERSECTION_SEPARATOR.join(stats.groups[p][code] for p, code in zip(positions, key, strict=True))
        for key in keys
    ]
    return Grouping(attributes, labels, sums.astype(np.float64))


def _fixed(sums: np.ndarray, layout: Layout, name: str, limbs: int = LIMBS, bits: int = FRACTION_BITS) -> np.ndarray:
    first = layout.index(f"{name}.0")
    return sum(sums[:, first + i] * float(2 ** (LIMB_BITS * i)) for i in range(limbs)) / float(2**bits)


def group_measures(g: Grouping, layout: Layout) -> dict[str, Measure]:
    s = g.sums

    def column(name):
        return s[:, layout.index(name)]

    n, selected = column("count"), column("selected")
    with np.errstate(divide="ignore", invalid="ignore"):

        def rate(numerator, denominator):
            return Measure(numerator / denominator, denominator, numerator, n)

        def mean(total):
            return Measure(total / n, n)

        measures = {
            "mean_score": mean(_fixed(s, layout, "score")),
            "selection_rate": rate(selected, n),
            "scoring_rate": rate(column("above_median"), n),
        }
        if layout.labels:
            positives, tp = column("positive"), column("true_positive")
            negatives, unselected = n - positives, n - selected
            fp, fn = selected - tp, positives - tp
            tn = negatives - fp
            calibration = sum(
                np.abs(_fixed(s, layout, f"bin{b}.score", BIN_LIMBS, BIN_FRACTION_BITS) - column(f"bin{b}.positive"))
                for b in range(CALIBRATION_BINS)
            )
            measures.update(
                base_rate=rate(positives, n),
                tpr=rate(tp, positives),
                fnr=rate(fn, positives),
                fpr=rate(fp, negatives),
                tnr=rate(tn, negatives),
                precision=rate(tp, selected),
                fdr=rate(fp, selected),
                npv=rate(tn, unselected),
                accuracy=rate(tp + tn, n),
                brier_score=mean(_fixed(s, layout, "label_squared_error")),
                expected_calibration_error=mean(calibration),
            )
            measures["for"] = rate(fn, unselected)
        if layout.targets:
            absolute = _fixed(s, layout, "absolute_error")
            positive = _fixed(s, layout, "positive_error")
            measures.update(
                mean_absolute_error=mean(absolute),
                mean_squared_error=mean(_fixed(s, layout, "squared_error")),
                mean_signed_error=mean(2 * positive - absolute),
            )
    return measures


def counts(g: Grouping, layout: Layout) -> dict[str, np.ndarray]:
    """Point counts per group: n, and with labels positives and negatives."""
    n = g.sums[:, layout.index("count"), 0]
    result = {"n": n.astype(np.int64)}
    if layout.labels:
        positives = g.sums[:, layout.index("positive"), 0]
        result.update(positives=positives.astype(np.int64), negatives=(n - positives).astype(np.int64))
    return result
