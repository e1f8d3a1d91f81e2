"""Small synthetic audits built directly from arrays, for the fairness engine's tests."""

import numpy as np

from audit.fairness import AuditData, GroupCodes


def make_audit_data(
    groups: dict[str, tuple[str, ...]],
    *,
    n: int = 2000,
    sizes: dict[str, tuple[int, ...]] | None = None,
    effects: dict[str, tuple[float, ...]] | None = None,
    spread: float = 0.1,
    labels: bool = False,
    targets: bool = False,
    seed: int = 0,
) -> AuditData:
    """Synthetic scored items: each attribute's group shifts the mean score by `effects[attribute][group]`.

    An attribute named in `sizes` gets exactly those group sizes (in a random order); the others are
    drawn uniformly. Scores are 0.5 plus the effects plus normal noise, clipped to 0-1; labels are 1 with
    probability equal to the score; targets are the score plus noise.
    """
    sizes = sizes or {}
    effects = effects or {}
    if sizes:
        n = sum(next(iter(sizes.values())))
    rng = np.random.default_rng(seed)
    attributes = {}
    mean = np.full(n, 0.5)
    for name, values in groups.items():
        if name in sizes:
            codes = rng.permutation(np.repeat(np.arange(len(values)), sizes[name]))
        else:
            codes = rng.integers(0, len(values), n)
        attributes[name] = GroupCodes(codes=codes.astype(np.int32), groups=tuple(values))
        if name in effects:
            mean += np.asarray(effects[name])[codes]
    scores = np.clip(mean + rng.normal(0, spread, n), 0, 1)
    return AuditData(
        keys=np.array([f"item-{i:06d}" for i in range(n)], dtype=object),
        scores=scores,
        selected=scores >= 0.5,
        attributes=attributes,
        labels=(rng.random(n) < scores).astype(np.int8) if labels else None,
        targets=np.clip(scores + rng.normal(0, 0.05, n), 0, 1) if targets else None,
    )


def members(data: AuditData, attribute: str, group: str) -> np.ndarray:
    """Which items belong to `group` of `attribute` (a boolean mask)."""
    codes = data.attributes[attribute]
    return codes.codes == codes.groups.index(group)
