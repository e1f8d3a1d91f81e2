import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from audit.fairness.ranking import auc_with_interval


def _brute_force_delong(scores, labels):
    positive, negative = scores[labels == 1], scores[labels == 0]
    psi = (positive[:, None] > negative[None, :]) + 0.5 * (positive[:, None] == negative[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / len(positive) + v01.var(ddof=1) / len(negative)


def test_the_auc_equals_scikit_learns_with_ties():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(300), 1)  # many ties
    labels = (rng.random(300) < scores).astype(np.int8)
    auc, _ = auc_with_interval(scores, labels, 0.95)
    assert auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_the_interval_is_delongs():
    rng = np.random.default_rng(1)
    scores = rng.random(120)
    labels = (rng.random(120) < scores).astype(np.int8)
    auc, (low, high) = auc_with_interval(scores, labels, 0.95)
    expected_auc, variance = _brute_force_delong(scores, labels)
    assert auc == pytest.approx(expected_auc)
    assert (high - low) / 2 == pytest.approx(1.959964 * np.sqrt(variance), rel=1e-5)


def test_a_group_with_one_class_has_no_auc():
    assert auc_with_interval(np.array([0.1, 0.9]), np.array([1, 1], dtype=np.int8), 0.95) == (None, (None, None))
