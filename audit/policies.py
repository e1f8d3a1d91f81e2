"""Turn a stored policy and a dataset's attribute schema into the engine's AuditSpec."""

from audit.fairness import AttributeSpec, AuditInputError, AuditSpec
from audit.models import AuditPolicy
from consent.rules.attribute_schema import AttributeSchema


def column_name(entry: dict) -> str:
    return f"{entry['attribute']}:{entry['banding']}" if entry.get("banding") else entry["attribute"]


def attribute_specs(entries: list[dict], schema: AttributeSchema) -> tuple[AttributeSpec, ...]:
    problems, specs = [], []
    for entry in entries:
        name, banding = entry.get("attribute"), entry.get("banding") or None
        attribute = schema.attributes.get(name)
        if attribute is None:
            problems.append(("attributes", f"the dataset's schema has no attribute {name!r}"))
            continue
        if banding is not None and banding not in attribute.bandings:
            problems.append(("attributes", f"attribute {name!r} has no banding {banding!r}"))
            continue
        groups = tuple(attribute.bandings[banding]) if banding else attribute.values
        reference = entry.get("reference") or None
        if reference is not None and reference not in groups:
            problems.append(("attributes", f"reference {reference!r} is not a group of {column_name(entry)}"))
        specs.append(
            AttributeSpec(name=column_name(entry), order=groups if attribute.ordinal else None, reference=reference)
        )
    if problems:
        raise AuditInputError(problems)
    return tuple(specs)


def policy_spec(policy: AuditPolicy, schema: AttributeSchema) -> AuditSpec:
    return AuditSpec(
        attributes=attribute_specs(policy.attributes, schema),
        threshold=policy.threshold,
        ratio_threshold=policy.ratio_threshold,
        confidence=policy.confidence,
        replicates=policy.replicates,
        seed=policy.seed,
        min_group_size=policy.min_group_size,
        decision_threshold=policy.decision_threshold,
        metrics=tuple(policy.metrics),
        intersections=policy.intersections,
    )
