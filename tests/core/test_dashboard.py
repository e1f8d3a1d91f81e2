"""The dashboard: verdicts and trend per model, runs in progress (live), reports awaiting a decision; per role."""

import re

import pytest

from audit import services as audit_services
from audit.models import AuditRun
from core.audit_log import Actor
from reports import services as report_services
from tests.reports import shared_run

pytestmark = pytest.mark.django_db
quarter_run, shared_files = shared_run.quarter_run, shared_run.shared_files  # one run and report for the module

MODEL = "demo-tabular-mlp"
REPORT = "BR-2026-Q4-0001"
PROGRESS = "/?partial=runs"


def page(client, url="/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def another_run(quarter_run) -> AuditRun:
    run = quarter_run.run
    return audit_services.start_audit_run(
        actor=Actor.system("test"), model=run.model_version, evaluation_set=run.evaluation_set, policy=run.policy,
        period=run.period,
    )  # fmt: skip


@pytest.mark.parametrize("role", ["officer", "auditor"])
def test_officers_and_auditors_see_each_attributes_latest_verdict_and_the_trend(client_as, quarter_run, role):
    html = page(client_as(role))
    card = re.search(r'<section class="card model-standing".*?</section>', html, re.DOTALL).group(0)
    assert f'data-model="{MODEL}"' in card and f"run #{quarter_run.run.pk}" in card
    for gap in quarter_run.run.gap_results.filter(metric="mean_score_gap").exclude(grouping__contains=" & "):
        row = re.search(rf'<tr data-attribute="{re.escape(gap.grouping)}">.*?</tr>', card, re.DOTALL).group(0)
        assert f"{gap.value:,.4f}" in row and f"verdict-{gap.verdict}" in row
    assert "<svg" in card and "2026-Q3" in card  # the trend chart covers the quarters before


def test_each_model_shows_its_latest_audit_verdict_next_to_the_attribute_verdicts(client_as, quarter_run):
    html = page(client_as("auditor"))
    card = re.search(r'<section class="card model-standing".*?</section>', html, re.DOTALL).group(0)
    run = quarter_run.run
    assert run.verdict
    verdict = re.search(r'<p class="run-verdict" data-verdict="(\w+)">.*?</p>', card, re.DOTALL)
    assert verdict.group(1) == run.verdict and f"verdict-{run.verdict}" in verdict.group(0)
    assert card.index('class="run-verdict"') < card.index('<table class="verdicts">')


def test_a_steward_sees_consent_shortcuts_and_no_verdicts(client_as, quarter_run):
    html = page(client_as("steward"))
    assert 'id="consent-shortcuts"' in html
    assert MODEL not in html and "skin_tone" not in html and "verdict-" not in html and "<svg" not in html
    assert 'id="runs-in-progress"' not in html and REPORT not in html


def test_a_user_without_a_role_is_told_to_ask_for_one(client_as, quarter_run):
    html = page(client_as("nobody"))
    assert 'id="no-role"' in html
    assert MODEL not in html and "verdict-" not in html and REPORT not in html


def test_a_signed_out_visitor_is_sent_to_sign_in(client_as):
    response = client_as(None).get("/")
    assert response["Location"] == "/sign-in/?next=/"


def test_without_a_completed_run_the_dashboard_says_what_to_do(client_as, quarter_run):
    AuditRun.objects.filter(pk=quarter_run.run.pk).update(status=AuditRun.Status.FAILED)
    html = page(client_as("officer"))
    assert "No audit run has completed yet." in html and "model-standing" not in html


def test_the_auditor_sees_drafts_awaiting_review_and_the_officer_reviewed_reports_awaiting_approval(
    client_as, quarter_run
):
    auditor, officer = page(client_as("auditor")), page(client_as("officer"))
    assert REPORT in re.search(r'<section class="card" id="awaiting-review">.*?</section>', auditor, re.DOTALL).group(0)
    assert 'id="awaiting-approval"' not in auditor
    assert 'id="awaiting-review"' not in officer
    approval = re.search(r'<section class="card" id="awaiting-approval">.*?</section>', officer, re.DOTALL).group(0)
    assert REPORT not in approval and "No reviewed report is waiting" in approval

    report_services.review_report(actor=Actor.system("auditor"), report=quarter_run.report)
    assert REPORT in page(client_as("officer"))
    assert REPORT not in page(client_as("auditor"))


def test_a_queued_run_polls_every_two_seconds_with_its_progress(client_as, quarter_run):
    run = another_run(quarter_run)
    run.set_status(AuditRun.Status.RUNNING, actor="test")
    AuditRun.objects.filter(pk=run.pk).update(progress=0.42, stage="scoring")
    html = page(client_as("officer"))
    section = re.search(r'<section class="card" id="runs-in-progress".*?</section>', html, re.DOTALL).group(0)
    assert 'hx-trigger="every 2s"' in section and f'hx-get="/?partial=runs&amp;watching={run.pk}"' in section
    assert f'id="run-progress-{run.pk}"' in section and "scoring" in section and "42%" in section


def test_the_progress_partial_is_only_the_runs_and_keeps_polling_while_one_is_running(client_as, quarter_run):
    run = another_run(quarter_run)
    html = page(client_as("auditor"), PROGRESS)
    assert "<html" not in html and html.strip().startswith('<section class="card" id="runs-in-progress"')
    assert 'hx-trigger="every 2s"' in html and f"#{run.pk}" in html and "queued" in html


def test_the_polling_stops_and_says_so_when_the_watched_runs_finish(client_as, quarter_run):
    html = page(client_as("officer"), f"{PROGRESS}&watching={quarter_run.run.pk}")
    assert "hx-trigger" not in html and "have finished" in html
    assert "hx-trigger" not in page(client_as("officer"))  # nothing in progress: no polling at all


@pytest.mark.parametrize("role", ["steward", "nobody"])
def test_the_progress_partial_is_refused_to_roles_that_do_not_see_runs(client_as, quarter_run, role):
    another_run(quarter_run)
    response = client_as(role).get(PROGRESS)
    assert response.status_code == 403
    assert MODEL not in response.content.decode() and "runs-in-progress" not in response.content.decode()


def test_the_progress_partial_sends_a_signed_out_visitor_to_sign_in(client_as):
    assert client_as(None).get(PROGRESS)["Location"].startswith("/sign-in/?next=")
