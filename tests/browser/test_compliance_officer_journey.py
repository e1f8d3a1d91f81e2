import pytest
from django.core.management import call_command

from audit.models import AuditRun
from reports.models import Report
from tests.audit.conftest import demo, model, policy  # noqa: F401 - shared fixtures

# A live server needs committed data; the rollback restores what the migrations wrote (roles, the ledger head).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_the_worker_once():
    """What `manage.py db_worker` does in production: take the queued task from the database and run it."""
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)


def test_a_compliance_officer_builds_an_evaluation_set_runs_an_audit_and_generates_the_quarterly_report(
    page, sign_in, screenshot, model, policy, csp_violations  # noqa: F811
):
    sign_in("officer")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Evaluation sets").click()
    page.locator("#new-evaluation-set").click()
    form = page.locator("#evaluation-set-form")
    form.locator("#id_name").fill("browser 2026-Q4")
    form.locator("input[name=strata][value='skin_tone:monk_3']").check()
    form.locator("input[name=strata][value='sex']").check()
    form.locator("input[name=allocation][value=per_stratum]").check()
    form.locator("#id_per_stratum").fill("40")
    form.locator("#id_seed").fill("1")
    page.locator("#build-evaluation-set").click()
    assert page.locator("#evaluation-set-name").inner_text() == "browser 2026-Q4"

    page.locator("#freeze-evaluation-set").click()
    page.wait_for_selector("#manifest-sha256")
    page.locator("#start-run-with-set").click()
    start = page.locator("#start-run-form")
    start.locator("#id_model_version").select_option(value=str(model.pk))
    start.locator("#id_policy").select_option(value=str(policy.pk))
    start.locator("#id_period").fill("2026-Q4")
    page.locator("#start-run").click()
    page.wait_for_selector("#run-status[data-status=queued]")

    run_the_worker_once()
    page.wait_for_selector("#verdicts", timeout=60_000)
    assert page.locator("#run-status").get_attribute("data-status") == "succeeded"
    assert page.locator("#verdicts tr[data-grouping='skin_tone:monk_3']").count() >= 1
    assert page.locator("figure.group-chart svg").count() >= 2
    # The charts keep their colours under the policy: fills are presentation attributes, not refused styles.
    assert page.locator("figure.group-chart svg path[fill='#dfe8f1']").count() >= 1
    assert AuditRun.objects.get().status == AuditRun.Status.SUCCEEDED

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    generate = page.locator("#generate-form")
    generate.get_by_label("Quarter").fill("2026-Q4")
    page.locator("#generate-button").click()
    page.wait_for_selector("#report-status[data-status=draft]", timeout=60_000)
    report = Report.objects.get()
    assert report.quarter == "2026-Q4" and report.status == "draft"
    assert page.locator("#finding-skin-tone-monk-3-mean-score-gap").is_visible()
    screenshot()
    assert csp_violations == []
