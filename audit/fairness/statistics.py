"""Sufficient statistics per cell (an observed combination of the audited attributes' values).

Every statistic is an integer sum, so shards merge by exact addition: counts, the selected count,
the count above the whole sample's median score, label and true-positive counts, and scores (and
squared errors, errors against a target, calibration bins) as fixed-point numbers.

Each fixed-point value is split into 12-bit limbs so that the bootstrap's matrix products run in
float32 and stay exact: a chunk of 256 items contributes at most 4095 * 8 * 256 < 2^24 to a sum, and
every integer under 2^24 is a float32. Scores and errors carry 32 fractional bits (three limbs); the
calibration bins' score sums carry 23 (two limbs), enough for a figure reported to four decimals.

Cells are the combinations of attribute values that occur, numbered densely attribute by attribute,
so there are never more cells than rows, whatever the number of attributes.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from audit.fairness.data import AuditData
from audit.fairness.spec import AuditSpec
from audit.fairness.weights import key_hashes, pair_codes, poisson_weights

FRACTION_BITS = 32
LIMB_BITS = 12
LIMBS = 3
BIN_FRACTION_BITS = 23
BIN_LIMBS = 2
CALIBRATION_BINS = 10
CHUNK = 256
FIXED = float(2**FRACTION_BITS)


@dataclass(frozen=True)
class Layout:
    """Which columns the statistics hold, and where."""

    labels: bool
    targets: bool

    @property
    def columns(self) -> tuple[str, ...]:
        names = ["count", *limb_names("score"), "selected", "above_median"]
        if self.labels:
            names += ["positive", "true_positive", *limb_names("label_squared_error")]
            for b in range(CALIBRATION_BINS):
                names += [f"bin{b}.count", f"bin{b}.positive", *limb_names(f"bin{b}.score", BIN_LIMBS)]
        if self.targets:
            names += [*limb_names("absolute_error"), *limb_names("positive_error"), *limb_names("squared_error")]
        return tuple(names)

    def index(self, name: str) -> int:
        return self.columns.index(name)


def limb_names(name: str, limbs: int = LIMBS) -> list[str]:
    return [f"{name}.{i}" for i in range(limbs)]


@dataclass(frozen=True)
class CellStatistics:
    """Integer sums per present cell: `point` (cells x columns) and `boot` (cells x columns x replicates).

    `codes` gives each cell's group code per attribute (cells x attributes), rows in lexicographic order.
    """

    attributes: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]  # per attribute, its groups; `codes` index into them
    layout: Layout
    replicates: int
    seed: int
    median: float  # the whole sample's median score, which the scoring rate counts from
    codes: np.ndarray
    point: np.ndarray
    boot: np.ndarray

    def merge(self, other: "CellStatistics") -> "CellStatistics":
        for name in ("attributes", "groups", "layout", "replicates", "seed", "median"):
            if getattr(self, name) != getattr(other, name):
                raise ValueError(f"statistics with different {name} cannot be merged")
        both = np.vstack([self.codes, other.codes])
        codes, inverse = np.unique(both, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        point = np.zeros((len(codes), self.point.shape[1]), dtype=np.int64)
        boot = np.zeros((len(codes), *self.boot.shape[1:]), dtype=np.int64)
        np.add.at(point, inverse, np.vstack([self.point, other.point]))
        np.add.at(boot, inverse, np.concatenate([self.boot, other.boot]))
        return CellStatistics(
            self.attributes, self.groups, self.layout, self.replicates, self.seed, self.median, codes, point, boot
        )


def fixed_limbs(values: np.ndarray, *, fraction_bits: int = FRACTION_BITS, limbs: int = LIMBS) -> np.ndarray:
    """Values in 0-1 as fixed point, split into 12-bit limbs (items x limbs)."""
    fixed = np.rint(values * float(2**fraction_bits)).astype(np.uint64)
    mask = np.uint64(2**LIMB_BITS - 1)
    return np.stack([(fixed >> np.uint64(LIMB_BITS * i)) & mask for i in range(limbs)], axis=1)


def calibration_bin(scores: np.ndarray) -> np.ndarray:
    """Ten equal-width bins over 0-1; a score of exactly 1 falls in the last."""
    return np.minimum((scores * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)


def item_columns(data: AuditData, median: float) -> tuple[Layout, np.ndarray]:
    """Each item's contribution to every column, as float32 (items x columns), filled in place."""
    layout = Layout(labels=data.labels is not None, targets=data.targets is not None)
    columns = np.zeros((len(data), len(layout.columns)), dtype=np.float32)

    def put(name, values):
        columns[:, layout.index(name)] = values

    def put_limbs(name, values, **fixed):
        limbs = fixed_limbs(values, **fixed)
        for i in range(limbs.shape[1]):
            put(f"{name}.{i}", limbs[:, i])

    put("count", 1.0)
    put_limbs("score", data.scores)
    put("selected", data.selected)
    put("above_median", data.scores > median)
    if layout.labels:
        labels = data.labels
        put("positive", labels)
        put("true_positive", labels & data.selected)
        put_limbs("label_squared_error", (data.scores - labels) ** 2)
        bins = calibration_bin(data.scores)
        score_limbs = fixed_limbs(data.scores, fraction_bits=BIN_FRACTION_BITS, limbs=BIN_LIMBS)
        for b in range(CALIBRATION_BINS):
            rows = np.flatnonzero(bins == b)
            columns[rows, layout.index(f"bin{b}.count")] = 1.0
            columns[rows, layout.index(f"bin{b}.positive")] = labels[rows]
            for i in range(BIN_LIMBS):
                columns[rows, layout.index(f"bin{b}.score.{i}")] = score_limbs[rows, i]
    if layout.targets:
        error = data.scores - data.targets
        put_limbs("absolute_error", np.abs(error))
        put_limbs("positive_error", np.maximum(error, 0.0))
        put_limbs("squared_error", error**2)
    return layout, columns


def dense_cells(data: AuditData, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cell number and each cell's attribute codes, numbering only combinations that occur.

    Densifying after every attribute keeps the numbers under rows x groups, so no key can overflow, and
    numbers the cells in lexicographic order of their codes, the order in which every shard agrees.
    """
    cells = np.zeros(len(data), dtype=np.int64)
    for name in names:
        attribute = data.attributes[name]
        _, cells = np.unique(cells * len(attribute.groups) + attribute.codes, return_inverse=True)
        cells = cells.ravel().astype(np.int64)
    first = np.unique(cells, return_index=True)[1]
    codes = np.stack([data.attributes[name].codes[first] for name in names], axis=1).astype(np.int32)
    return cells, codes.reshape(len(first), len(names))


def cell_statistics(
    data: AuditData, spec: AuditSpec, *, threads: int = 2, median: float | None = None
) -> CellStatistics:
    """The sums per cell. Shards of one audit must share `median` (the whole sample's median score)."""
    names = tuple(a.name for a in spec.attributes)
    groups = tuple(data.attributes[name].groups for name in names)
    if median is None:
        median = float(np.median(data.scores)) if len(data) else 0.0
    cells, codes = dense_cells(data, names)
    layout, columns = item_columns(data, median)

    order = np.argsort(cells, kind="stable")
    cells, columns = cells[order], columns[order]
    a, b = key_hashes(data.keys[order], spec.seed)
    _, starts = np.unique(cells, return_index=True)
    ends = np.append(starts[1:], len(cells)) if len(cells) else starts  # an empty shard has no cells

    if len(cells):
        point = np.stack(
            [np.add.reduceat(columns[:, j].astype(np.float64), starts) for j in range(columns.shape[1])], axis=1
        )
        point = np.rint(point).astype(np.int64)
    else:
        point = np.zeros((0, columns.shape[1]), dtype=np.int64)

    pair = pair_codes(spec.replicates, spec.seed)
    chunks = [
        (index, lo, min(lo + CHUNK, end))
        for index, (start, end) in enumerate(zip(starts, ends, strict=True))
        for lo in range(start, end, CHUNK)
    ]

    def work(share):
        total = np.zeros((len(starts), columns.shape[1], spec.replicates), dtype=np.int64)
        for index, lo, hi in share:
            weights = poisson_weights(a[lo:hi], b[lo:hi], pair, spec.replicates).astype(np.float32)
            total[index] += (columns[lo:hi].T @ weights).astype(np.int64)
        return total

    threads = max(1, min(threads, len(chunks)))
    with threadpool_limits(1), ThreadPoolExecutor(threads) as pool:
        boot = sum(pool.map(work, [chunks[i::threads] for i in range(threads)]))
    if not isinstance(boot, np.ndarray):
        boot = np.zeros((0, columns.shape[1], spec.replicates), dtype=np.int64)
    return CellStatistics(names, groups, layout, spec.replicates, spec.seed, median, codes, point, boot)
