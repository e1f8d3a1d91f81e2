"""The fairness engine: group statistics, Poisson bootstrap, simultaneous intervals and verdicts (no Django).

    data = from_frame(frame, id_column=..., score_column=..., attributes=[AttributeSpec("race")])
    spec = AuditSpec(attributes=(AttributeSpec("race"),), threshold=0.05)
    evidence = evidence_for(data, spec, source={...})
"""

from audit.fairness.crosscheck import cross_check
from audit.fairness.data import AuditData, GroupCodes, from_frame, read_score_file
from audit.fairness.engine import audit, findings
from audit.fairness.errors import AuditInputError, CrossCheckError
from audit.fairness.evidence import EVIDENCE_SCHEMA, evidence_for
from audit.fairness.results import Findings, Gap, Section
from audit.fairness.spec import GAP_METRICS, RATIO_METRICS, AttributeSpec, AuditSpec
from audit.fairness.statistics import CellStatistics, cell_statistics

__all__ = [
    "EVIDENCE_SCHEMA",
    "GAP_METRICS",
    "RATIO_METRICS",
    "AttributeSpec",
    "AuditData",
    "AuditInputError",
    "AuditSpec",
    "CellStatistics",
    "CrossCheckError",
    "Findings",
    "Gap",
    "GroupCodes",
    "Section",
    "audit",
    "cell_statistics",
    "cross_check",
    "evidence_for",
    "findings",
    "from_frame",
    "read_score_file",
]
