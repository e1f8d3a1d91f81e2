import pytest

from core.audit_log import Actor
from reports import services as report_services
from reports.models import FindingComment
from tests.audit.conftest import demo, frozen_set, model, policy, queued_run  # noqa: F401 - shared fixtures
from tests.reports.conftest import audited, signing_key  # noqa: F401 - shared fixtures

# A live server needs committed data; the rollback restores what the migrations wrote (roles, the ledger head).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

FINDING = "skin_tone:monk_3 / mean_score_gap"


@pytest.fixture
def draft_report(audited, signing_key, role_user):  # noqa: F811
    officer = Actor.of_user(role_user("officer"))
    return report_services.generate_report(actor=officer, quarter=audited.period)


def test_an_auditor_opens_the_run_comments_on_a_finding_reviews_the_report_and_verifies_the_downloaded_pdf(
    page, sign_in, sign_out, screenshot, draft_report, audited, tmp_path  # noqa: F811
):
    sign_in("auditor")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit runs").click()
    page.locator(f"#runs tr[data-run='{audited.pk}'] a").first.click()
    assert page.locator("#run-status").get_attribute("data-status") == "succeeded"
    assert page.locator("#verdicts tr[data-grouping='skin_tone:monk_3']").count() >= 1
    assert page.locator("#cross-check").is_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.locator(f"#report-{draft_report.report_id} a").first.click()
    finding = page.locator(f"[data-finding='{FINDING}']")
    finding.get_by_label("Comment").fill("The dark band scores lower; the interval lies wholly above the threshold.")
    finding.get_by_role("button", name="Add comment").click()
    finding.locator(".comment").wait_for()
    assert FindingComment.objects.get().finding == FINDING

    page.locator("#review-button").click()
    page.wait_for_selector("#report-status[data-status=reviewed]")

    # The compliance officer approves and signs it; then the auditor takes the approved file.
    report_page = page.url
    sign_out()
    sign_in("officer")
    page.goto(report_page)
    page.locator("#approve-button").click()
    page.wait_for_selector("#report-status[data-status=approved]")
    sign_out()
    sign_in("auditor")
    page.goto(report_page)
    with page.expect_download() as download:
        page.locator("#download-pdf").click()
    pdf = tmp_path / download.value.suggested_filename
    download.value.save_as(pdf)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.locator("#verify-link").click()
    page.get_by_label("Report PDF").set_input_files(str(pdf))
    page.locator("#verify-button").click()
    result = page.locator("#verify-result")
    result.wait_for()
    assert result.get_attribute("data-authentic") == "true"
    assert draft_report.report_id in result.inner_text()
    screenshot()
