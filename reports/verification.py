"""Is this file an approved report of this platform, signed, with the evidence the platform stored?"""

from dataclasses import dataclass, field
from io import BytesIO

import orjson
from pypdf import PdfReader

from audit.models import AuditRun
from consent.rules.ledger import sha256_hex
from reports.models import Report
from reports.services import EVIDENCE_ATTACHMENT, evidence_bundle
from reports.signing import check_signature


@dataclass
class Verification:
    checks: list[tuple[bool, str]] = field(default_factory=list)
    report: Report | None = None

    @property
    def authentic(self) -> bool:
        return bool(self.checks) and all(ok for ok, _ in self.checks)

    def add(self, ok: bool, message: str) -> None:
        self.checks.append((ok, message))


def attached_evidence(pdf: bytes) -> bytes | None:
    try:
        attachments = PdfReader(BytesIO(pdf), strict=False).attachments
        return attachments[EVIDENCE_ATTACHMENT][0] if EVIDENCE_ATTACHMENT in attachments else None
    except Exception:  # noqa: BLE001 - a damaged file has no readable attachment
        return None


def verify_report(pdf: bytes) -> Verification:
    result = Verification()
    digest = sha256_hex(pdf)
    report = Report.objects.filter(pdf_sha256=digest).first()
    attachment = attached_evidence(pdf)
    claimed = _claimed_id(attachment)
    if report is not None and report.status == Report.Status.APPROVED:
        result.report = report
        result.add(True, f"the file is approved report {report.report_id} ({report.quarter}), byte for byte")
    elif report is not None:
        result.report = report
        result.add(False, f"the file is report {report.report_id}, but it is {report.status}, not approved")
    elif claimed and (known := Report.objects.filter(report_id=claimed).first()):
        result.report = known
        result.add(False, f"the file claims to be report {claimed}, but its bytes differ from the file the platform "
                          f"{'approved' if known.status == Report.Status.APPROVED else 'stored'} "
                          f"(sha256 {digest[:16]}… instead of {known.pdf_sha256[:16]}…)")  # fmt: skip
    else:
        result.add(False, "the file is not a report of this platform")

    approved_at = result.report.approved_at if result.report is not None else None
    signature = check_signature(pdf, at=approved_at)
    if not signature.present:
        result.add(False, "the file carries no signature")
    elif signature.ok:
        result.add(True, f"the signature is intact, covers the whole file and is the organisation's "
                         f"({signature.signer}, signed {signature.signed_at})")  # fmt: skip
    else:
        problems = [
            text
            for ok, text in (
                (signature.intact, "the signed bytes were altered"),
                (signature.trusted, "the signer is not the organisation's certificate"),
                (signature.covers_whole_file, "bytes were added after signing"),
            )
            if not ok
        ]
        result.add(False, "the signature does not hold: " + "; ".join(problems))

    if attachment is None:
        result.add(False, f"the file has no readable {EVIDENCE_ATTACHMENT} attachment")
    elif result.report is not None:
        stored = result.report
        runs = list(stored.runs.order_by("pk"))
        if sha256_hex(attachment) != stored.evidence_sha256:
            result.add(False, "the attached evidence differs from the evidence the report was generated with")
        elif attachment != evidence_bundle(stored.report_id, stored.quarter, runs):
            result.add(False, "the attached evidence no longer matches the stored results of the report's runs")
        else:
            unchanged = all(_run_evidence_intact(run) for run in runs)
            if unchanged:
                result.add(True, "the attached evidence matches the stored results of run(s) "
                           + ", ".join(str(r.pk) for r in runs))  # fmt: skip
            else:
                result.add(False, "a run's stored results no longer match their recorded hash")
    return result


def _claimed_id(attachment: bytes | None) -> str | None:
    if attachment is None:
        return None
    try:
        return orjson.loads(attachment).get("report")
    except orjson.JSONDecodeError:
        return None


def _run_evidence_intact(run: AuditRun) -> bool:
    return sha256_hex(orjson.dumps(run.evidence, option=orjson.OPT_SORT_KEYS)) == run.evidence_sha256
