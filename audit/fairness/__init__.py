"""The fairness engine: group statistics, Poisson bootstrap intervals, gaps and verdicts (no Django).

    data = from_frame(frame, id_column=..., score_column=..., attributes=[AttributeSpec("race")])
    spec = AuditSpec(attributes=(AttributeSpec("race"),), threshold=0.05)
    evidence = evidence_for(data, spec, source={...})
"""

from audit.fairness.crosscheck import cross_check
from audit.fairness.data import AuditData, GroupCodes, from_frame, read_score_file
from audit.fairness.engine import audit
from audit.fairness.errors import AuditInputError, CrossCheckError
from audit.fairness.evidence import EVIDENCE_SCHEMA, evidence_for
from audit.fairness.spec import GAP_METRICS, AttributeSpec, AuditSpec
from audit.fairness.statistics import CellStatistics, cell_statistics

__all__ = [
    "EVIDENCE_SCHEMA",
    "GAP_METRICS",
    "AttributeSpec",
    "AuditData",
    "AuditInputError",
    "AuditSpec",
    "CellStatistics",
    "CrossCheckError",
    "GroupCodes",
    "audit",
    "cell_statistics",
    "cross_check",
    "evidence_for",
    "from_frame",
    "read_score_file",
]
