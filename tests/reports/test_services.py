
import html

import orjson
import pytest
from pypdf import PdfReader

from consent import services as consent_services
from consent.errors import RuleViolation
from core.models import AuditLogEntry
from reports import services
from reports.models import IllegalTransition, Report, ReportImpact
from reports.verification import attached_evidence, verify_report


def pdf_text(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_a_draft_report_renders_the_quarter_with_its_evidence_attached(audited, officer):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    assert report.report_id == "BR-2026-Q4-0001" and report.status == Report.Status.DRAFT
    path = services.report_file(report)
    text = pdf_text(path)
    assert "BR-2026-Q4-0001" in text and "skin_tone:monk_3" in text
    bundle = orjson.loads(attached_evidence(path.read_bytes()))
    assert bundle["report"] == report.report_id
    assert bundle["runs"][0]["evidence"] == audited.evidence
    assert AuditLogEntry.objects.filter(action="report.generate", object_id=report.report_id).exists()


def test_there_is_no_report_without_a_succeeded_run(db, officer):
    with pytest.raises(RuleViolation, match="no succeeded audit run for 2026-Q4"):
        services.generate_report(actor=officer, quarter="2026-Q4")


def test_review_then_approval_signs_the_report_and_freezes_it(audited, officer, auditor, signing_key):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    services.comment_on_finding(
        actor=auditor, report=report, finding="skin_tone:monk_3 / mean_score_gap", text="Gap confirmed; see CI."
    )
    report = services.review_report(actor=auditor, report=report)
    assert report.status == Report.Status.REVIEWED
    report = services.approve_report(actor=officer, report=report)
    assert report.status == Report.Status.APPROVED and report.approved_at
    text = pdf_text(services.report_file(report))
    assert "Gap confirmed; see CI." in text and "arthur" in text and "olivia" in text
    assert [(t.from_status, t.to_status) for t in report.history.all()] == [
        ("", "draft"), ("draft", "reviewed"), ("reviewed", "approved")
    ]
    report.context = {}
    with pytest.raises(ValueError, match="approved; it and its file never change"):
        report.save()
    with pytest.raises(RuleViolation, match="is approved"):
        services.comment_on_finding(actor=auditor, report=report, finding="x", text="late")


def test_only_the_roles_allowed_move_a_report(audited, officer, auditor):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    with pytest.raises(PermissionError):
        services.review_report(actor=officer, report=report)
    with pytest.raises(PermissionError):
        services.approve_report(actor=auditor, report=report)
    with pytest.raises(IllegalTransition, match="cannot go from draft to approved"):
        services.approve_report(actor=officer, report=report)


def test_an_approved_report_verifies_and_a_one_byte_change_is_caught(audited, officer, auditor, signing_key):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    report = services.approve_report(actor=officer, report=services.review_report(actor=auditor, report=report))
    data = services.report_file(report).read_bytes()
    result = verify_report(data)
    assert result.authentic, result.checks
    assert result.report == report and len(result.checks) == 3

    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0x01
    result = verify_report(bytes(tampered))
    assert not result.authentic
    assert any("signature does not hold" in message or "no signature" in message for _, message in result.checks)


def test_a_draft_is_not_an_approved_report(audited, officer):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    result = verify_report(services.report_file(report).read_bytes())
    assert not result.authentic
    assert "it is draft, not approved" in result.checks[0][1]


def test_a_later_withdrawal_flags_the_approved_report_without_changing_it_and_the_next_quarter_says_so(
    audited, officer, auditor, signing_key, frozen_set
):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    report = services.approve_report(actor=officer, report=services.review_report(actor=auditor, report=report))
    before = (report.pdf_sha256, services.report_file(report).read_bytes())
    member = frozen_set.members.select_related("item__subject").first()
    consent_services.withdraw_consent(actor=officer, subject=member.item.subject, channel="email")

    impacts = services.flag_affected_reports(actor=officer)
    assert [i.report for i in impacts] == [report] and member.item_id in impacts[0].item_ids
    assert services.flag_affected_reports(actor=officer) == []  # recorded once
    report.refresh_from_db()
    assert (report.pdf_sha256, services.report_file(report).read_bytes()) == before
    assert verify_report(before[1]).authentic

    # The next quarter's report says so.
    from audit.models import AuditRun

    AuditRun.objects.filter(pk=audited.pk).update(period="2027-Q1")  # reuse the run as next quarter's
    following = services.generate_report(actor=officer, quarter="2027-Q1")
    affected = following.context["governance"]["withdrawn_since_approval"]
    assert affected == [{"report": report.report_id, "quarter": "2026-Q4", "members": len(ReportImpact.objects.get().item_ids)}]
    assert report.report_id in pdf_text(services.report_file(following))


def test_reports_of_a_quarter_are_numbered_in_order(audited, officer):
    first = services.generate_report(actor=officer, quarter="2026-Q4")
    second = services.generate_report(actor=officer, quarter="2026-Q4")
    assert (first.report_id, second.report_id) == ("BR-2026-Q4-0001", "BR-2026-Q4-0002")


def test_the_trend_covers_the_last_four_quarters(audited, officer):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    trend = report.context["trend"][0]
    assert [p["quarter"] for p in trend["points"]] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert trend["points"][-1]["value"] is not None and trend["points"][0]["value"] is None


def test_the_governance_section_counts_coverage_exclusions_and_provenance(audited, officer, frozen_set):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    governance = report.context["governance"]["evaluation_sets"][0]
    assert governance["members"] == frozen_set.members.count()
    assert governance["audited"] == audited.evidence["data"]["items"]
    assert sum(p["items"] for p in governance["provenance"]) == frozen_set.members.count()
    assert "consent withdrawn" in governance["excluded"]


def test_only_compliance_officers_generate_reports(audited, auditor):
    with pytest.raises(PermissionError):
        services.generate_report(actor=auditor, quarter="2026-Q4")
    assert not Report.objects.exists()


def test_the_reviewer_cannot_also_approve(audited, officer, signing_key):
    from core.audit_log import Actor

    operator = Actor.system("cli:ops")
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    report = services.review_report(actor=operator, report=report)
    with pytest.raises(PermissionError, match="another person must approve it"):
        services.approve_report(actor=operator, report=report)
    assert services.approve_report(actor=officer, report=report).status == Report.Status.APPROVED


def test_the_approved_report_keeps_the_figures_that_were_generated_and_reviewed(
    audited, officer, auditor, signing_key, frozen_set
):
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    generated = report.context
    # Later changes to what the context reads live (provenance, later withdrawals) must not reach the report.
    member = frozen_set.members.select_related("item__subject").first()
    consent_services.withdraw_consent(actor=officer, subject=member.item.subject, channel="email")
    report = services.approve_report(actor=officer, report=services.review_report(actor=auditor, report=report))
    moving = {"signoff", "findings_comments"}
    assert {k: v for k, v in report.context.items() if k not in moving | {"report"}} == {
        k: v for k, v in generated.items() if k not in moving | {"report"}
    }
    assert report.context["report"] == {**generated["report"], "status": "approved"}


def test_consent_lost_before_approval_is_not_reported_as_lost_after_it(audited, officer, auditor, signing_key, frozen_set):
    member = frozen_set.members.select_related("item__subject").first()
    consent_services.withdraw_consent(actor=officer, subject=member.item.subject, channel="email")
    report = services.generate_report(actor=officer, quarter="2026-Q4")
    services.approve_report(actor=officer, report=services.review_report(actor=auditor, report=report))
    assert services.flag_affected_reports(actor=officer) == []


def test_a_report_signed_before_a_key_rotation_still_verifies(audited, officer, auditor, signing_key):
    from reports.signing import create_signing_key

    report = services.generate_report(actor=officer, quarter="2026-Q4")
    report = services.approve_report(actor=officer, report=services.review_report(actor=auditor, report=report))
    create_signing_key(common_name="Rotated", organisation="Example Org", overwrite=True)
    assert verify_report(services.report_file(report).read_bytes()).authentic


def test_the_report_states_each_runs_audit_verdict_and_how_the_verdicts_were_built(audited, officer):
    from audit.method import PLAIN
    from reports.render import render_html

    report = services.generate_report(actor=officer, quarter="2026-Q4")
    (run,) = report.context["runs"]
    assert run["verdict"]["verdict"] == audited.verdict == audited.evidence["verdict"]["verdict"]
    assert run["policy"]["ratio_threshold"] == audited.policy.ratio_threshold
    text = " ".join(html.unescape(render_html(report.context)).split())
    methodology = text[text.index('id="methodology"') :]
    assert PLAIN in methodology and audited.evidence["policy"]["verdict_rule"] in methodology
    assert audited.evidence["verdict"]["error_control"] in methodology
    assert "Error control across the verdicts of a run" in methodology
