from functools import reduce

import numpy as np
import pytest

from audit.fairness import AttributeSpec, AuditSpec, audit, cell_statistics
from audit.fairness.statistics import CHUNK, FIXED, LIMB_BITS, fixed_limbs
from audit.fairness.weights import key_hashes, pair_codes, poisson_weights
from tests.audit.fairness.synthetic import make_audit_data

GROUPS = {"race": ("a", "b", "c"), "sex": ("f", "m"), "age": ("young", "middle", "old")}
SPEC = AuditSpec(
    attributes=(AttributeSpec("race"), AttributeSpec("sex"), AttributeSpec("age", order=("young", "middle", "old"))),
    replicates=100,
    seed=11,
    min_group_size=20,
    metrics=("mean_score_gap", "selection_rate_gap", "equalized_odds_difference", "mean_absolute_error_gap"),
)


@pytest.fixture(scope="module")
def data():
    return make_audit_data(GROUPS, n=3000, effects={"race": (0.0, 0.05, 0.1)}, labels=True, targets=True, seed=3)


def of_shard(shard, data, spec=SPEC):
    """A shard's statistics: every shard counts the scoring rate from the whole sample's median."""
    return cell_statistics(shard, spec, median=float(np.median(data.scores)))


def shards_of(data, count, seed):
    rows = np.random.default_rng(seed).permutation(len(data))
    return [data.subset(np.sort(part)) for part in np.array_split(rows, count)]


def test_one_shard_or_twenty_give_identical_intervals(data):
    whole = cell_statistics(data, SPEC)
    parts = [of_shard(shard, data) for shard in shards_of(data, 20, seed=1)]
    merged = reduce(lambda left, right: left.merge(right), parts)
    merged_backwards = reduce(lambda left, right: left.merge(right), reversed(parts))

    for statistics in (merged, merged_backwards):
        assert np.array_equal(statistics.codes, whole.codes)
        assert statistics.point.dtype == whole.point.dtype == np.int64
        assert np.array_equal(statistics.point, whole.point)
        assert np.array_equal(statistics.boot, whole.boot)
    findings = audit(data, SPEC)
    assert audit(data, SPEC, statistics=merged) == findings
    assert audit(data, SPEC, statistics=merged_backwards) == findings
    assert findings["attributes"]["race"]["mean_score_gap"]["ci"][0] is not None


def test_shards_merged_as_a_tree_equal_shards_merged_one_by_one(data):
    parts = [of_shard(shard, data) for shard in shards_of(data, 8, seed=2)]
    pairs = [parts[i].merge(parts[i + 1]) for i in range(0, 8, 2)]
    tree = pairs[3].merge(pairs[0]).merge(pairs[2].merge(pairs[1]))
    chain = reduce(lambda left, right: left.merge(right), parts)
    assert np.array_equal(tree.point, chain.point) and np.array_equal(tree.boot, chain.boot)


def test_the_number_of_threads_does_not_change_the_statistics(data):
    one, three = cell_statistics(data, SPEC, threads=1), cell_statistics(data, SPEC, threads=3)
    assert np.array_equal(one.point, three.point) and np.array_equal(one.boot, three.boot)


def test_an_empty_shard_merges_as_nothing(data):
    whole = cell_statistics(data, SPEC)
    empty = of_shard(data.subset(np.array([], dtype=np.int64)), data)

    assert empty.point.shape == (0, whole.point.shape[1])
    assert empty.boot.shape == (0, *whole.boot.shape[1:])
    merged = empty.merge(whole)
    assert np.array_equal(merged.point, whole.point) and np.array_equal(merged.boot, whole.boot)


def test_a_shard_missing_some_cells_still_merges_exactly(data):
    race = data.attributes["race"].codes
    only_a, the_rest = np.flatnonzero(race == 0), np.flatnonzero(race != 0)
    whole = cell_statistics(data, SPEC)
    merged = of_shard(data.subset(the_rest), data).merge(of_shard(data.subset(only_a), data))
    assert np.array_equal(merged.point, whole.point) and np.array_equal(merged.boot, whole.boot)


def test_statistics_with_a_different_seed_do_not_merge(data):
    other = AuditSpec(attributes=SPEC.attributes, replicates=SPEC.replicates, seed=SPEC.seed + 1)
    with pytest.raises(ValueError, match="statistics with different seed cannot be merged"):
        cell_statistics(data, SPEC).merge(cell_statistics(data, other))


def test_fixed_limbs_reassemble_the_fixed_point_value():
    values = np.array([0.0, 2**-33, 0.123456789, 0.5, 1 - 2**-40, 1.0])
    limbs = fixed_limbs(values)
    assert limbs.max() < 2**LIMB_BITS
    reassembled = sum(limbs[:, i].astype(object) << (LIMB_BITS * i) for i in range(limbs.shape[1]))
    assert list(reassembled) == [round(v * FIXED) for v in values]


def test_point_sums_are_exact_integers(data):
    statistics = cell_statistics(data, SPEC)
    layout = statistics.layout
    rows = np.stack([data.attributes[name].codes for name in statistics.attributes], axis=1)

    for row, cell in enumerate(statistics.codes):
        mine = (rows == cell).all(axis=1)
        assert statistics.point[row, layout.index("count")] == mine.sum()
        assert statistics.point[row, layout.index("selected")] == data.selected[mine].sum()
        assert statistics.point[row, layout.index("true_positive")] == (data.selected & (data.labels == 1))[mine].sum()
        fixed = sum(statistics.point[row, layout.index(f"score.{i}")].item() << (LIMB_BITS * i) for i in range(3))
        assert fixed == sum(round(s * FIXED) for s in data.scores[mine])


def test_bootstrap_sums_equal_weighted_sums_in_integer_arithmetic():
    # One cell of 1,000 items (several chunks of 256) with scores near 1, so that the limbs are large.
    data = make_audit_data({"sex": ("f", "m")}, sizes={"sex": (1000, 40)}, effects={"sex": (0.45, 0.0)}, seed=5)
    spec = AuditSpec(attributes=(AttributeSpec("sex"),), replicates=50, seed=9)
    assert (data.attributes["sex"].codes == 0).sum() > 3 * CHUNK
    statistics = cell_statistics(data, spec)

    a, b = key_hashes(data.keys, spec.seed)
    weights = poisson_weights(a, b, pair_codes(spec.replicates, spec.seed), spec.replicates).astype(np.int64)
    limbs = fixed_limbs(data.scores).astype(np.int64)
    for row, (code,) in enumerate(statistics.codes):
        mine = data.attributes["sex"].codes == code
        assert np.array_equal(statistics.boot[row, statistics.layout.index("count")], weights[mine].sum(axis=0))
        for i in range(3):
            expected = (limbs[mine, i, None] * weights[mine]).sum(axis=0)
            assert np.array_equal(statistics.boot[row, statistics.layout.index(f"score.{i}")], expected)


def test_shards_with_their_own_medians_are_refused_rather_than_merged_wrongly(data):
    halves = shards_of(data, 2, seed=3)
    with pytest.raises(ValueError, match="statistics with different median cannot be merged"):
        cell_statistics(halves[0], SPEC).merge(cell_statistics(halves[1], SPEC))


def test_cells_are_the_observed_combinations_so_many_attributes_never_overflow():
    # 20 attributes of 12 groups: 12^20 possible cells (past 64 bits), 500 observed at most.
    rng = np.random.default_rng(0)
    groups = {f"a{i}": tuple(f"g{j}" for j in range(12)) for i in range(20)}
    data = make_audit_data(groups, n=500, seed=13)
    spec = AuditSpec(attributes=tuple(AttributeSpec(name) for name in groups), replicates=20, min_group_size=2,
                     intersections=False)
    statistics = cell_statistics(data, spec)
    rows = np.stack([data.attributes[name].codes for name in groups], axis=1)
    assert len(statistics.codes) == len(np.unique(rows, axis=0)) <= 500
    assert statistics.point[:, statistics.layout.index("count")].sum() == 500
    assert rng is not None
