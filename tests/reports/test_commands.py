import io

import pytest
from django.core.management import CommandError, call_command

from reports.models import Report


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_commands_render_review_approve_and_verify_a_report(audited, officer, auditor, tmp_path):
    assert "Signing key" in run("create_signing_key")
    draft = tmp_path / "draft.pdf"
    assert "BR-2026-Q4-0001 (draft)" in run("render_report", "--quarter", "2026-Q4", "--out", str(draft),
                                             "--as-user", "olivia")  # fmt: skip
    assert draft.read_bytes().startswith(b"%PDF")
    run("review_report", "BR-2026-Q4-0001", "--comment-on", "sex / mean_score_gap=Within threshold.",
        "--as-user", "arthur")  # fmt: skip
    output = run("review_report", "BR-2026-Q4-0001", "--approve", "--as-user", "olivia")
    assert "is approved" in output
    report = Report.objects.get()
    from reports.services import report_file

    assert "verified" in run("verify_report", str(report_file(report)))
    with pytest.raises(CommandError, match="NOT a verified approved report"):
        run("verify_report", str(draft))


def test_create_signing_key_refuses_to_overwrite(db, tmp_path):
    run("create_signing_key")
    with pytest.raises(CommandError, match="exists"):
        run("create_signing_key")


def test_a_failed_review_step_keeps_none_of_its_comments(audited, officer, auditor):
    from reports import services
    from reports.models import FindingComment

    report = services.generate_report(actor=officer, quarter="2026-Q4")
    services.review_report(actor=auditor, report=report)
    with pytest.raises(CommandError, match="cannot go from reviewed to reviewed"):
        run("review_report", report.report_id, "--comment-on", "sex / mean_score_gap=late", "--as-user", "arthur")
    assert not FindingComment.objects.exists()


def test_export_refuses_a_stored_file_that_no_longer_matches(audited, officer, tmp_path):
    from reports import services

    report = services.generate_report(actor=officer, quarter="2026-Q4")
    path = services.report_file(report)
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(CommandError, match="does not match its recorded SHA-256"):
        run("export_report", report.report_id, "--out", str(tmp_path / "copy.pdf"))
