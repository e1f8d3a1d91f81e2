"""Area under the ROC curve per group, from the rows, with DeLong's variance.

AUC = P(score of a positive > score of a negative) + P(equal) / 2, computed from midranks; DeLong's
variance var(V10) / P + var(V01) / N from each item's placement value (Sun and Xu's fast algorithm).
The interval is AUC -/+ z sqrt(variance), cut to [0, 1]. Ranks need the rows, so this figure is the one
that is not a sum over cells.
"""

import numpy as np
from scipy.stats import rankdata

from audit.fairness.data import AuditData
from audit.fairness.intervals import NONE, normal


def group_index(data: AuditData, attributes: tuple[str, ...]) -> np.ndarray:
    """Each row's group number, groups numbered in lexicographic order of their attribute codes."""
    index = np.zeros(len(data), dtype=np.int64)
    for name in attributes:
        codes = data.attributes[name]
        _, index = np.unique(index * len(codes.groups) + codes.codes, return_inverse=True)
        index = index.ravel().astype(np.int64)
    return index


def auc_with_interval(scores: np.ndarray, labels: np.ndarray, confidence: float):
    """(auc, (low, high)); (None, NONE) when the group lacks positives or negatives."""
    positive, negative = scores[labels == 1], scores[labels == 0]
    m, k = len(positive), len(negative)
    if m == 0 or k == 0:
        return None, NONE
    together = rankdata(np.concatenate([positive, negative]))
    auc = float((together[:m].sum() - m * (m + 1) / 2) / (m * k))
    if m < 2 or k < 2:
        return auc, NONE
    v01 = (together[:m] - rankdata(positive)) / k
    v10 = 1 - (together[m:] - rankdata(negative)) / m
    variance = v01.var(ddof=1) / m + v10.var(ddof=1) / k
    low, high = normal(auc, float(np.sqrt(variance)), confidence, low=0.0, high=1.0)
    return auc, (min(low, auc), max(high, auc))


def aucs(data: AuditData, attributes: tuple[str, ...], groups: int, confidence: float) -> list:
    """Per group (in the grouping's order), (auc, interval)."""
    index = group_index(data, attributes)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(groups + 1))
    return [
        auc_with_interval(data.scores[order[lo:hi]], data.labels[order[lo:hi]], confidence)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]
