import pytest

# A live server needs committed data; the rollback restores what the migrations wrote (roles, the ledger head).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_user_signs_in_in_chromium_and_reaches_the_dashboard(page, sign_in, screenshot):
    sign_in("auditor")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert screenshot().stat().st_size > 0


def test_a_signed_out_visitor_is_sent_to_sign_in(page):
    page.goto("/account/")
    assert "/sign-in/?next=/account/" in page.url
