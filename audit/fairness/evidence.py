"""The evidence JSON: one shape for registry runs and one-shot file audits (documented in the README)."""

from importlib.metadata import version

import numpy as np

from audit.fairness.crosscheck import cross_check
from audit.fairness.data import AuditData
from audit.fairness.engine import audit
from audit.fairness.spec import GAP_METRICS, AuditSpec
from audit.fairness.statistics import CellStatistics
from audit.fairness.weights import __doc__ as WEIGHTS_RECIPE

EVIDENCE_SCHEMA = "bias-audit-evidence/1"


def evidence_for(
    data: AuditData,
    spec: AuditSpec,
    *,
    source: dict,
    statistics: CellStatistics | None = None,
    threads: int = 2,
    context: dict | None = None,
) -> dict:
    """Audit, cross-check, and assemble the evidence. Raises CrossCheckError when the libraries disagree."""
    findings = audit(data, spec, statistics=statistics, threads=threads)
    checked = cross_check(data, findings)
    return {
        "schema": EVIDENCE_SCHEMA,
        "source": source,
        **(context or {}),
        "policy": policy_block(spec),
        "data": {
            "items": len(data),
            "labels": data.labels is not None,
            "targets": data.targets is not None,
            "selected": int(np.count_nonzero(data.selected)),
        },
        "attributes": findings["attributes"],
        "intersections": findings["intersections"],
        "verdicts": findings["verdicts"],
        "cross_check": checked,
        "software": {name: version(name) for name in ("numpy", "pandas", "fairlearn", "aif360")},
    }


def policy_block(spec: AuditSpec) -> dict:
    return {
        "attributes": [
            {
                "name": a.name,
                "ordinal": a.ordinal,
                "order": list(a.order) if a.order else None,
                "reference": a.reference,
            }
            for a in spec.attributes
        ],
        "threshold": spec.threshold,
        "threshold_note": "chosen by the provider; a gap is judged against it",
        "metrics": list(spec.metrics),
        "metric_definitions": {m: GAP_METRICS[m] for m in spec.metrics},
        "confidence": spec.confidence,
        "min_group_size": spec.min_group_size,
        "decision_threshold": spec.decision_threshold,
        "bootstrap": {
            "method": "Poisson bootstrap, percentile intervals",
            "replicates": spec.replicates,
            "seed": spec.seed,
            "weights": " ".join(WEIGHTS_RECIPE.split()),
        },
        "verdict_rule": (
            "pass when the interval's upper bound is under the threshold, fail when its lower bound is over it, "
            "inconclusive otherwise (n_needed: the per-group size that would settle it)"
        ),
    }
