"""The evidence JSON: one shape for registry runs and one-shot file audits (documented in the README)."""

from importlib.metadata import version

import numpy as np

from audit.fairness.crosscheck import LIBRARIES, cross_check
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
        "policy": {**policy_block(spec), "error_control": findings["verdict"]["error_control"]},
        "data": {
            "items": len(data),
            "labels": data.labels is not None,
            "targets": data.targets is not None,
            "selected": int(np.count_nonzero(data.selected)),
        },
        "attributes": findings["attributes"],
        "intersections": findings["intersections"],
        "verdicts": findings["verdicts"],
        "verdict": findings["verdict"],
        "warnings": findings["warnings"],
        "cross_check": checked,
        "software": {name: version(name) for name in ("numpy", "pandas", *LIBRARIES)},
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
        "ratio_threshold": spec.ratio_threshold,
        "ratio_threshold_note": "a ratio (lowest group's rate over the highest's) is judged against it; 0.8 is "
        "the four-fifths rule",
        "metrics": list(spec.metrics),
        "judged": list(spec.judged),
        "metric_definitions": {m: GAP_METRICS[m] for m in spec.judged},
        "confidence": spec.confidence,
        "min_group_size": spec.min_group_size,
        "min_group_size_note": "a group is judged on a rate only when its n and the rate's denominator (positives "
        "for TPR, negatives for FPR, selected for precision) reach it; smaller groups are listed as insufficient",
        "decision_threshold": spec.decision_threshold,
        "bootstrap": {
            "method": "Poisson bootstrap; simultaneous max-|t| bands over every pair of groups",
            "replicates": spec.replicates,
            "seed": spec.seed,
            "weights": " ".join(WEIGHTS_RECIPE.split()),
        },
        "interval_rule": INTERVAL_RULE,
        "verdict_rule": VERDICT_RULE,
    }


INTERVAL_RULE = (
    "For every pair of groups judged on a figure, the signed difference d gets a standard error se from the "
    "bootstrap replicates; one critical value k (the confidence-quantile of the largest |d - d*| / se over all "
    "pairs in each replicate) makes every band d -/+ k se hold at once. A gap's interval runs from the largest "
    "lower bound of |d| among pairs whose band excludes 0 (or 0) to the largest upper bound of |d|, so it "
    "contains the point estimate. Ratios use the same bands on the log scale. The bands of the judged gaps share "
    "one k over the whole audit (adjusted_for: how many judged gaps). A group's own rate has a Wilson interval, "
    "a mean a bootstrap percentile interval, the AUC DeLong's."
)
VERDICT_RULE = (
    "fail when some pair's simultaneous lower bound is over the threshold; pass when every pair's one-sided upper "
    "bound (|d| + z se) is under it (intersection-union); inconclusive otherwise, with n_needed: the per-group "
    "size at which the deciding pair would settle with 80% power if its true difference were the observed one "
    "(or a fifth of the threshold away from it, when nearer). A ratio fails when its interval lies wholly below "
    "the ratio threshold and passes when its one-sided lower bound is above it. A PASS rests on one-sided bounds "
    "(pass_bound), so it can stand beside a two-sided simultaneous interval that reaches past the threshold. The "
    "audit passes only when every judged gap passes."
)
