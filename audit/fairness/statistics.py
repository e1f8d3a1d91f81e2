"""Sufficient statistics per cell (the finest intersection of the audited attributes).

Every statistic is an integer sum, so shards merge by exact addition: counts, the selected count,
label and true-positive counts, and scores (and errors against a target) as fixed-point numbers with
32 fractional bits. Coarser groups (one attribute, or two of three) are sums of cells.

Each fixed-point value is split into three 12-bit limbs so that the bootstrap's matrix products
run in float32 and stay exact: a chunk of 256 items contributes at most 4095 * 8 * 256 < 2^24 to a
sum, and every integer under 2^24 is a float32.
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
CHUNK = 256
FIXED = float(2**FRACTION_BITS)


@dataclass(frozen=True)
class Layout:
    """Which columns the statistics hold, and where."""

    labels: bool
    targets: bool

    @property
    def columns(self) -> tuple[str, ...]:
        names = ["count", *_limbs("score"), "selected"]
        if self.labels:
            names += ["positive", "true_positive"]
        if self.targets:
            names += [*_limbs("absolute_error"), *_limbs("positive_error")]
        return tuple(names)

    def index(self, name: str) -> int:
        return self.columns.index(name)


def _limbs(name: str) -> list[str]:
    return [f"{name}.{i}" for i in range(LIMBS)]


@dataclass(frozen=True)
class CellStatistics:
    """Integer sums per present cell: `point` (cells x columns) and `boot` (cells x columns x replicates)."""

    attributes: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]  # per attribute, its groups; a cell id is a mixed-radix number over them
    layout: Layout
    replicates: int
    seed: int
    cell_ids: np.ndarray
    point: np.ndarray
    boot: np.ndarray

    def merge(self, other: "CellStatistics") -> "CellStatistics":
        for name in ("attributes", "groups", "layout", "replicates", "seed"):
            if getattr(self, name) != getattr(other, name):
                raise ValueError(f"statistics with different {name} cannot be merged")
        ids = np.union1d(self.cell_ids, other.cell_ids)
        point = np.zeros((len(ids), self.point.shape[1]), dtype=np.int64)
        boot = np.zeros((len(ids), *self.boot.shape[1:]), dtype=np.int64)
        for part in (self, other):
            where = np.searchsorted(ids, part.cell_ids)
            point[where] += part.point
            boot[where] += part.boot
        return CellStatistics(self.attributes, self.groups, self.layout, self.replicates, self.seed, ids, point, boot)

    def cell_codes(self) -> np.ndarray:
        """Per present cell, each attribute's group code (cells x attributes)."""
        codes = np.empty((len(self.cell_ids), len(self.attributes)), dtype=np.int64)
        rest = self.cell_ids.copy()
        for position in range(len(self.attributes) - 1, -1, -1):
            radix = len(self.groups[position])
            codes[:, position] = rest % radix
            rest //= radix
        return codes


def fixed_limbs(values: np.ndarray) -> np.ndarray:
    """Values in 0-1 as 32-bit fixed point, split into three 12-bit limbs (items x 3)."""
    fixed = np.rint(values * FIXED).astype(np.uint64)
    mask = np.uint64(2**LIMB_BITS - 1)
    return np.stack([(fixed >> np.uint64(LIMB_BITS * i)) & mask for i in range(LIMBS)], axis=1)


def item_columns(data: AuditData) -> tuple[Layout, np.ndarray]:
    layout = Layout(labels=data.labels is not None, targets=data.targets is not None)
    parts = [np.ones((len(data), 1)), fixed_limbs(data.scores), data.selected[:, None]]
    if layout.labels:
        parts += [data.labels[:, None], (data.labels & data.selected)[:, None]]
    if layout.targets:
        error = data.scores - data.targets
        parts += [fixed_limbs(np.abs(error)), fixed_limbs(np.maximum(error, 0.0))]
    return layout, np.hstack([np.asarray(p, dtype=np.float32) for p in parts])


def cell_statistics(data: AuditData, spec: AuditSpec, *, threads: int = 2) -> CellStatistics:
    names = tuple(a.name for a in spec.attributes)
    groups = tuple(data.attributes[name].groups for name in names)
    cells = np.zeros(len(data), dtype=np.int64)
    for name, radix in zip(names, (len(g) for g in groups), strict=True):
        cells = cells * radix + data.attributes[name].codes
    layout, columns = item_columns(data)

    order = np.argsort(cells, kind="stable")
    cells, columns = cells[order], columns[order]
    a, b = key_hashes(data.keys[order], spec.seed)
    cell_ids, starts = np.unique(cells, return_index=True)
    ends = np.append(starts[1:], len(cells)) if len(cells) else starts  # an empty shard has no cells

    point = np.stack(
        [np.add.reduceat(columns[:, j].astype(np.float64), starts) for j in range(columns.shape[1])], axis=1
    )
    point = np.rint(point).astype(np.int64) if len(cells) else np.zeros((0, columns.shape[1]), dtype=np.int64)

    codes = pair_codes(spec.replicates, spec.seed)
    chunks = [
        (index, lo, min(lo + CHUNK, end))
        for index, (start, end) in enumerate(zip(starts, ends, strict=True))
        for lo in range(start, end, CHUNK)
    ]

    def work(share):
        total = np.zeros((len(cell_ids), columns.shape[1], spec.replicates), dtype=np.int64)
        for index, lo, hi in share:
            weights = poisson_weights(a[lo:hi], b[lo:hi], codes, spec.replicates).astype(np.float32)
            total[index] += (columns[lo:hi].T @ weights).astype(np.int64)
        return total

    threads = max(1, min(threads, len(chunks)))
    with threadpool_limits(1), ThreadPoolExecutor(threads) as pool:
        boot = sum(pool.map(work, [chunks[i::threads] for i in range(threads)]))
    if not isinstance(boot, np.ndarray):
        boot = np.zeros((0, columns.shape[1], spec.replicates), dtype=np.int64)
    return CellStatistics(names, groups, layout, spec.replicates, spec.seed, cell_ids, point, boot)
