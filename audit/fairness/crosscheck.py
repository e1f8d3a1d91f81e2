"""Recompute the point estimates with Fairlearn (`MetricFrame`), scikit-learn, SciPy and AIF360.

The libraries are the reference definitions; the engine is the fast, mergeable path. The libraries
compute every figure themselves from the rows, never from the engine's outputs. Every figure both
sides define is compared, under the name of the library that defines it; a figure that either side
leaves undefined (a rate with no denominator) is not compared and is counted as such. A difference
above the tolerance fails the audit with both values shown. The engine's mean scores come from 32-bit
fixed-point sums, so they may differ from the libraries' float means by at most 2^-33 (about 1.2e-10).

The scoring rate is compared as Fairlearn's selection rate of (score > the sample's median). Not
library-defined, so not compared: FDR and NPV (no function of their own in these libraries), the
expected calibration error, and the larger of the two rate differences against the reference.
"""

import logging
import math
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd

from audit.fairness.data import AuditData
from audit.fairness.errors import CROSS_CHECK_FAILED, CrossCheckError
from audit.fairness.spec import GAP_COMPONENTS, INTERSECTION_SEPARATOR

TOLERANCE = 1e-9
LIBRARIES = ("fairlearn", "aif360", "scikit-learn", "scipy")
FAIRLEARN, SKLEARN, AIF360, SCIPY = "Fairlearn", "scikit-learn", "AIF360", "SciPy"


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
    return {name: version(name) for name in LIBRARIES}


def cross_check(data: AuditData, findings: dict, *, tolerance: float = TOLERANCE) -> dict:
    """Compare `findings` (from `engine.audit`) with the libraries; raise CrossCheckError on disagreement."""
    fl, aif = _libraries()
    comparison = _Comparison(tolerance)
    sections = {**findings["attributes"], **findings["intersections"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, section in sections.items():
            labels = _labels(data, section["attributes"])
            frame = _library_groups(fl, aif, data, labels)
            _groups(frame, name, section, comparison)
            _gaps(frame, name, section, comparison)
            _aif360(aif, data, labels, name, section, comparison)
            if "trend" in section:
                _trend(data, labels, name, section, comparison)
    report = {
        "libraries": libraries_versions(),
        "tolerance": tolerance,
        "compared": comparison.count,
        "not_compared_undefined": comparison.undefined,
        "by_library": dict(comparison.by_library),
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
        self.undefined = 0
        self.by_library: dict[str, int] = {}
        self.largest = 0.0
        self.largest_at = None
        self.disagreements: list[str] = []

    def __call__(self, library: str, metric: str, where: str, ours, theirs):
        theirs = None if theirs is None else float(theirs)
        if ours is None or theirs is None or not math.isfinite(theirs):
            self.undefined += 1  # undefined on one side (no positives, say): nothing to compare
            return
        self.count += 1
        self.by_library[library] = self.by_library.get(library, 0) + 1
        difference = abs(ours - theirs)
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


def _guard(metric):
    """A library metric that returns NaN where it would raise (a group with one class for AUC)."""

    def guarded(y_true, y_pred):
        if len(np.unique(y_true)) < 2:
            return np.nan
        return metric(y_true, y_pred)

    return guarded


def _library_groups(fl, aif, data: AuditData, labels) -> dict[str, tuple[str, pd.Series]]:
    """Per figure, the library that defines it and its value per group, as the library computes it."""
    from sklearn import metrics as sk

    decisions = data.selected.astype(np.int8)
    y_true = data.labels if data.labels is not None else decisions
    figures = {}

    def frame(metrics, truth, predictions, library):
        by_group = fl.MetricFrame(metrics=metrics, y_true=truth, y_pred=predictions, sensitive_features=labels).by_group
        figures.update({column: (library, by_group[column]) for column in metrics})

    median = float(np.median(data.scores))
    frame({"mean_score": fl.mean_prediction}, y_true, data.scores, FAIRLEARN)
    frame({"selection_rate": fl.selection_rate}, y_true, decisions, FAIRLEARN)
    frame({"scoring_rate": fl.selection_rate}, y_true, (data.scores > median).astype(np.int8), FAIRLEARN)
    if data.labels is not None:
        frame({"tpr": fl.true_positive_rate, "fpr": fl.false_positive_rate, "fnr": fl.false_negative_rate,
               "tnr": fl.true_negative_rate}, data.labels, decisions, FAIRLEARN)  # fmt: skip
        frame({"precision": lambda t, p: sk.precision_score(t, p, zero_division=np.nan),
               "accuracy": sk.accuracy_score}, data.labels, decisions, SKLEARN)  # fmt: skip
        frame({"auc": _guard(sk.roc_auc_score), "brier_score": sk.brier_score_loss}, data.labels, data.scores,
              SKLEARN)  # fmt: skip
        frame({"base_rate": lambda t, p: aif.base_rate(t),
               "for": lambda t, p: aif.false_omission_rate_error(t, p, zero_division=np.nan)},
              data.labels, decisions, AIF360)  # fmt: skip
    if data.targets is not None:
        frame({"mean_absolute_error": sk.mean_absolute_error, "mean_squared_error": sk.mean_squared_error},
              data.targets, data.scores, SKLEARN)  # fmt: skip
    return figures


def _groups(figures, name, section, compare):
    for label, group in section["groups"].items():
        for column, (library, values) in figures.items():
            compare(library, column, f"{name} = {label}", group.get(column), values.loc[label])




def _gaps(figures, name, section, compare):
    """Between-group differences (highest minus lowest) and ratios (lowest over highest) over the groups judged."""
    for metric, gap in section["gaps"].items():
        judged = [label for label in section["groups"] if label not in gap["insufficient_groups"]]
        if len(judged) < 2:
            continue
        values = [figures[column][1].loc[judged].astype(float) for column in GAP_COMPONENTS[metric]]
        if gap["scale"] == "ratio":
            theirs = min(v.min() / v.max() for v in values)
        else:
            theirs = max(v.max() - v.min() for v in values)
        compare(FAIRLEARN, metric, name, gap["value"], theirs)


def _aif360(aif, data: AuditData, labels, name, section, compare):
    from sklearn.metrics import precision_score

    reference = section["reference"]
    if reference is None:
        return
    decisions = data.selected.astype(np.int8)
    y_true = data.labels if data.labels is not None else decisions
    order = np.argsort(labels.astype(str), kind="stable")
    sorted_labels = labels[order].astype(str)
    reference_rows = order[sorted_labels == reference]
    for label, versus in section["versus_reference"].items():
        own = order[np.searchsorted(sorted_labels, label, "left"):np.searchsorted(sorted_labels, label, "right")]
        rows = np.concatenate([own, reference_rows])
        kwargs = {"prot_attr": labels[rows], "priv_group": reference}
        truth, decided = pd.Series(y_true[rows]), decisions[rows]
        where = f"{name} = {label} against {reference}"

        def check(metric, theirs, where=where, versus=versus):
            compare(AIF360, metric, where, versus[metric]["value"], theirs)

        check("mean_score_difference", aif.difference(lambda _t, p: np.mean(p), truth, data.scores[rows], **kwargs))
        check("statistical_parity_difference", aif.statistical_parity_difference(truth, decided, pos_label=1, **kwargs))
        check("disparate_impact_ratio",
              aif.disparate_impact_ratio(truth, decided, pos_label=1, zero_division=np.nan, **kwargs))  # fmt: skip
        if data.labels is not None:
            for metric in ("equal_opportunity_difference", "average_odds_difference", "average_odds_error",
                           "average_predictive_value_difference"):  # fmt: skip
                check(metric, getattr(aif, metric)(truth, decided, pos_label=1, **kwargs))
            check("predictive_parity_difference",
                  aif.difference(lambda t, p: precision_score(t, p, zero_division=np.nan), truth, decided,
                                 **kwargs))  # fmt: skip


def _trend(data: AuditData, labels, name, section, compare):
    """The size-weighted slope equals the item-level least-squares slope of score on the group's position."""
    from scipy.stats import linregress

    trend = section["trend"]
    used = trend["groups_used"]
    if trend["slope"] is None or len(used) < 2:
        return
    position = {label: trend["order"].index(label) for label in used}
    rows = np.isin(labels.astype(str), used)
    x = np.array([position[label] for label in labels[rows]], dtype=np.float64)
    compare(SCIPY, "trend slope (linregress)", name, trend["slope"], linregress(x, data.scores[rows]).slope)
