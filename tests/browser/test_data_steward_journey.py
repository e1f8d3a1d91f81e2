import pytest

from consent.models import ConsentEvent

# A live server needs committed data; the rollback restores what the migrations wrote (roles, the ledger head).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_data_steward_records_a_grant_and_a_withdrawal_and_sees_the_state_change(
    page, sign_in, screenshot, notice, make_subject, csp_violations
):
    subject = make_subject("SUBJ-BROWSER-1")
    sign_in("steward")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Consent").click()
    page.get_by_label("Subject reference").fill("SUBJ-BROWSER")
    page.locator("#subject-results").get_by_role("link", name="SUBJ-BROWSER-1").click()
    evaluation = page.locator("#state-evaluation")
    assert evaluation.get_attribute("data-state") == "never granted"

    grant = page.locator("#grant-form")
    grant.get_by_label("Evaluation").check()
    grant.get_by_label("Bias audit").check()
    grant.get_by_label("Channel").select_option("paper_form")
    grant.get_by_role("button", name="Record grant").click()
    page.wait_for_selector("#state-evaluation[data-state='active']")
    assert page.locator("#state-bias_audit").get_attribute("data-state") == "active"
    assert page.locator("#consent-history tr[data-kind='grant']").count() == 1

    withdraw = page.locator("#withdraw-form")
    withdraw.get_by_label("Channel").select_option("paper_form")
    withdraw.get_by_role("button", name="Record withdrawal").click()
    page.wait_for_selector("#state-evaluation[data-state='withdrawn']")
    assert page.locator("#consent-history tr[data-kind='withdrawal']").count() == 1
    screenshot()

    kinds = list(ConsentEvent.objects.filter(subject=subject).order_by("sequence").values_list("kind", flat=True))
    assert kinds == ["grant", "withdrawal"]
    # Every page of the journey and each htmx swap (search, grant, withdrawal) ran under the policy untouched.
    assert page.evaluate("document.querySelector('meta[name=htmx-config]') !== null && window.htmx.config.allowEval") is False
    assert csp_violations == []
