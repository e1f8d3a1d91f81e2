"""Stratified drawing of an evaluation set from eligible items (pure pandas and NumPy).

Each item belongs to one stratum: the tuple of its (possibly banded) attribute values. The
draw takes, per stratum, either a target count or a proportional share of a total with a
minimum per stratum, never more than the stratum's eligible items, at random with a seed.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

STRATUM_SEPARATOR = " | "


@dataclass(frozen=True)
class Allocation:
    """Targets per stratum label, one target for every stratum, or a total split proportionally with a floor."""

    targets: dict[str, int] | None = None
    per_stratum: int | None = None
    total: int | None = None
    minimum: int = 0

    def __post_init__(self):
        given = [v is not None for v in (self.targets, self.per_stratum, self.total)]
        if sum(given) != 1:
            raise ValueError(
                "give one of: targets per stratum, a count per stratum, or a total to allocate proportionally"
            )
        if self.total is not None and self.total < 1:
            raise ValueError("the total must be at least 1")
        if self.minimum < 0 or any(t < 0 for t in (self.targets or {}).values()):
            raise ValueError("targets and minimum cannot be negative")

    def as_json(self) -> dict:
        return {"targets": self.targets, "per_stratum": self.per_stratum, "total": self.total, "minimum": self.minimum}


def stratum_labels(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return frame[columns].astype(str).agg(STRATUM_SEPARATOR.join, axis=1)


def draw(eligible: pd.DataFrame, *, stratum: pd.Series, allocation: Allocation, seed: int) -> pd.DataFrame:
    """Rows of `eligible` drawn per stratum. `eligible` must have a unique, sortable `item_id` column."""
    rng = np.random.default_rng(seed)
    counts = stratum.value_counts()
    wanted = _targets(counts, allocation)
    drawn = []
    # Sorted strata and sorted items within each: the draw depends on the seed only.
    for label in sorted(counts.index):
        rows = eligible[stratum == label].sort_values("item_id")
        take = min(wanted.get(label, 0), len(rows))
        if take:
            chosen = np.sort(rng.choice(len(rows), size=take, replace=False))
            drawn.append(rows.iloc[chosen].assign(stratum=label))
    if not drawn:
        return eligible.iloc[0:0].assign(stratum=pd.Series(dtype=str))
    return pd.concat(drawn, ignore_index=True)


def _targets(counts: pd.Series, allocation: Allocation) -> dict[str, int]:
    if allocation.targets is not None:
        return dict(allocation.targets)
    if allocation.per_stratum is not None:
        return {label: allocation.per_stratum for label in counts.index}
    total_eligible = int(counts.sum())
    targets = {}
    for label, count in counts.items():
        share = round(allocation.total * count / total_eligible) if total_eligible else 0
        targets[label] = max(share, allocation.minimum)
    return targets
