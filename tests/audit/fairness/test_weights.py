import math

import numpy as np

from audit.fairness.weights import POISSON_TABLE, key_hashes, pair_codes, poisson_weights


def weights_of(keys, *, replicates=64, seed=0) -> np.ndarray:
    a, b = key_hashes(np.array(keys, dtype=object), seed)
    return poisson_weights(a, b, pair_codes(replicates, seed), replicates)


def test_a_weight_depends_only_on_its_key_replicate_and_seed():
    keys = [f"item-{i}" for i in range(50)]
    alone = {key: weights_of([key])[0] for key in keys[:5]}
    together = weights_of(keys)
    shuffled_with_others = weights_of(["stranger", *reversed(keys), "another"])

    for i, key in enumerate(keys[:5]):
        assert (together[i] == alone[key]).all()
        assert (shuffled_with_others[len(keys) - i] == alone[key]).all()


def test_the_same_key_gets_the_same_weights_on_every_call():
    keys = [f"item-{i}" for i in range(100)]
    assert (weights_of(keys, seed=7) == weights_of(keys, seed=7)).all()


def test_a_different_seed_gives_different_weights():
    keys = [f"item-{i}" for i in range(2000)]
    first, second = weights_of(keys, seed=0), weights_of(keys, seed=1)
    agreement = (first == second).mean()
    # Two independent Poisson(1) draws agree with probability sum_k P(k)^2 = 0.3085...
    chance = sum((math.exp(-1) / math.factorial(k)) ** 2 for k in range(20))
    assert abs(agreement - chance) < 0.01


def test_more_replicates_keep_the_first_ones():
    keys = [f"item-{i}" for i in range(300)]
    assert (weights_of(keys, replicates=201)[:, :201] == weights_of(keys, replicates=400)[:, :201]).all()
    assert weights_of(keys, replicates=201).shape == (300, 201)


def test_the_poisson_table_has_mean_one_and_variance_one():
    table = POISSON_TABLE.astype(np.float64)
    assert len(table) == 65536
    assert abs(table.mean() - 1) < 1e-4
    assert abs(table.var() - 1) < 1e-4
    assert POISSON_TABLE.min() == 0 and POISSON_TABLE.max() == 8
    assert abs((POISSON_TABLE == 0).mean() - math.exp(-1)) < 1e-4


def test_the_poisson_table_is_sorted_quantiles():
    assert (np.diff(POISSON_TABLE.astype(np.int16)) >= 0).all()


def test_weights_over_many_items_have_mean_one_and_variance_one():
    weights = weights_of([f"item-{i}" for i in range(20_000)], replicates=200).astype(np.float64)
    assert abs(weights.mean() - 1) < 0.005
    assert abs(weights.var() - 1) < 0.01
    per_replicate = weights.mean(axis=0)
    assert abs(per_replicate - 1).max() < 0.05  # 20,000 items: standard error 0.007


def test_replicates_are_uncorrelated():
    weights = weights_of([f"item-{i}" for i in range(20_000)], replicates=8).astype(np.float64)
    correlations = np.corrcoef(weights.T)[np.triu_indices(8, k=1)]
    # Both halves of one hash (replicates 0 and 1) included.
    assert np.abs(correlations).max() < 0.04
