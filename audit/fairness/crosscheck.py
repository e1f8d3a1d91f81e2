"""Recompute the point estimates with Fairlearn (`MetricFrame`) and AIF360 (`aif360.sklearn.metrics`).

The libraries are the reference definitions; the engine is the fast, mergeable path. Every figure
both compute is compared; a difference above the tolerance fails the audit with both values shown.
The engine's mean scores come from 32-bit fixed-point sums, so they may differ from the libraries'
float means by at most 2^-33 (about 1.2e-10), well inside the tolerance.
"""

import logging
import math
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd

from audit.fairness.data import AuditData
from audit.fairness.errors import CROSS_CHECK_FAILED, CrossCheckError
from audit.fairness.spec import INTERSECTION_SEPARATOR

TOLERANCE = 1e-9


def _libraries():
    # AIF360 logs a warning per optional extra (TensorFlow, inFairness, ot) at import time.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        import aif360.sklearn.metrics as aif
        import fairlearn.metrics as fl
    finally:
        logging.disable(previous)
    return fl, aif


def libraries_versions() -> dict[str, str]:
    return {"fairlearn": version("fairlearn"), "aif360": version("aif360")}


def cross_check(data: AuditData, findings: dict, *, tolerance: float = TOLERANCE) -> dict:
    """Compare `findings` (from `engine.audit`) with the libraries; raise CrossCheckError on disagreement."""
    fl, aif = _libraries()
    comparison = _Comparison(tolerance)
    sections = {**findings["attributes"], **findings["intersections"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, section in sections.items():
            labels = _labels(data, section["attributes"])
            _fairlearn(fl, data, labels, name, section, comparison)
            _aif360(aif, data, labels, name, section, comparison)
    report = {
        "libraries": libraries_versions(),
        "tolerance": tolerance,
        "compared": comparison.count,
        "largest_difference": comparison.largest,
        "largest_difference_at": comparison.largest_at,
        "passed": not comparison.disagreements,
        "disagreements": comparison.disagreements,
    }
    if comparison.disagreements:
        raise CrossCheckError(comparison.disagreements, report)
    return report


class _Comparison:
    def __init__(self, tolerance):
        self.tolerance = tolerance
        self.count = 0
        self.largest = 0.0
        self.largest_at = None
        self.disagreements: list[str] = []

    def __call__(self, library: str, metric: str, where: str, ours, theirs):
        if ours is None:  # undefined for the engine (no positives, say): nothing to compare
            return
        theirs = float(theirs)
        self.count += 1
        difference = abs(ours - theirs) if math.isfinite(theirs) else math.inf
        if difference > self.largest:
            self.largest, self.largest_at = difference, f"{library}: {metric} of {where}"
        if difference > self.tolerance:
            self.disagreements.append(
                CROSS_CHECK_FAILED.format(
                    library=library, metric=metric, where=where, ours=ours, theirs=theirs,
                    difference=difference, tolerance=self.tolerance,
                )
            )  # fmt: skip


def _labels(data: AuditData, attributes: list[str]) -> np.ndarray:
    parts = [np.asarray(data.attributes[a].groups, dtype=object)[data.attributes[a].codes] for a in attributes]
    if len(parts) == 1:
        return parts[0]
    joined = parts[0].astype(str)
    for part in parts[1:]:
        joined = np.char.add(np.char.add(joined, INTERSECTION_SEPARATOR), part.astype(str))
    return joined.astype(object)


def _fairlearn(fl, data: AuditData, labels, name, section, compare):
    """Fairlearn's per-group figures; gaps are its between-group differences over the groups judged."""
    from sklearn.metrics import precision_score

    def mean_score(y_true, y_pred, scores):
        return fl.mean_prediction(y_true, scores)

    def mean_absolute_error(y_true, y_pred, scores, targets):
        return float(np.mean(np.abs(scores - targets)))

    def mean_signed_error(y_true, y_pred, scores, targets):
        return float(np.mean(scores - targets))

    decisions = data.selected.astype(np.int8)
    y_true = data.labels if data.labels is not None else decisions
    metrics = {"mean_score": mean_score, "selection_rate": fl.selection_rate}
    params = {"mean_score": {"scores": data.scores}}
    if data.labels is not None:
        metrics.update(
            tpr=fl.true_positive_rate,
            fpr=fl.false_positive_rate,
            fnr=fl.false_negative_rate,
            precision=lambda t, p: precision_score(t, p, zero_division=np.nan),
        )
    if data.targets is not None:
        metrics.update(mean_absolute_error=mean_absolute_error, mean_signed_error=mean_signed_error)
        both = {"scores": data.scores, "targets": data.targets}
        params.update(mean_absolute_error=both, mean_signed_error=both)
    frame = fl.MetricFrame(
        metrics=metrics, y_true=y_true, y_pred=decisions, sensitive_features=labels, sample_params=params
    ).by_group
    for label, group in section["groups"].items():
        for metric in metrics:
            compare("Fairlearn", metric, f"{name} = {label}", group[metric], frame.loc[label, metric])

    sufficient = [label for label, group in section["groups"].items() if group["sufficient"]]
    if len(sufficient) < 2:
        return
    judged = frame.loc[sufficient]
    gaps = section["gaps"]

    def between(metric):
        return judged[metric].max() - judged[metric].min()

    compare("Fairlearn", "mean_score_gap", name, gaps["mean_score_gap"]["value"], between("mean_score"))
    compare("Fairlearn", "selection_rate_gap", name, gaps["selection_rate_gap"]["value"], between("selection_rate"))
    compare("Fairlearn", "disparate_impact_ratio", name, gaps["disparate_impact_ratio"]["value"],
            judged["selection_rate"].min() / judged["selection_rate"].max())  # fmt: skip
    if data.labels is not None:
        compare("Fairlearn", "equalized_odds_difference", name, gaps["equalized_odds_difference"]["value"],
                max(between("tpr"), between("fpr")))  # fmt: skip
    if data.targets is not None:
        compare("Fairlearn", "mean_absolute_error_gap", name, gaps["mean_absolute_error_gap"]["value"],
                between("mean_absolute_error"))  # fmt: skip


def _aif360(aif, data: AuditData, labels, name, section, compare):
    reference = section["reference"]
    if reference is None:
        return
    decisions = data.selected.astype(np.int8)
    y_true = data.labels if data.labels is not None else decisions
    for label, versus in section["versus_reference"].items():
        rows = np.flatnonzero((labels == label) | (labels == reference))
        kwargs = {"prot_attr": labels[rows], "priv_group": reference}
        truth, decided = pd.Series(y_true[rows]), decisions[rows]
        where = f"{name} = {label} against {reference}"
        compare("AIF360", "mean_score_difference", where, versus["mean_score_difference"]["value"],
                aif.difference(lambda _t, p: np.mean(p), truth, data.scores[rows], **kwargs))
        compare("AIF360", "statistical_parity_difference", where, versus["statistical_parity_difference"]["value"],
                aif.statistical_parity_difference(truth, decided, pos_label=1, **kwargs))
        compare("AIF360", "disparate_impact_ratio", where, versus["disparate_impact_ratio"]["value"],
                aif.disparate_impact_ratio(truth, decided, pos_label=1, zero_division=np.nan, **kwargs))
        if data.labels is not None:
            compare("AIF360", "equal_opportunity_difference", where, versus["equal_opportunity_difference"]["value"],
                    aif.equal_opportunity_difference(truth, decided, pos_label=1, **kwargs))
            compare("AIF360", "average_odds_difference", where, versus["average_odds_difference"]["value"],
                    aif.average_odds_difference(truth, decided, pos_label=1, **kwargs))  # fmt: skip
