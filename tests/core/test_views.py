import pytest

from core.models import ApiToken

pytestmark = pytest.mark.django_db


def test_every_page_sends_a_signed_out_visitor_to_sign_in(client_as):
    response = client_as(None).get("/account/")
    assert response.status_code == 302
    assert response["Location"] == "/sign-in/?next=/account/"


def test_the_sign_in_page_signs_a_user_in_and_goes_to_the_dashboard(client, role_user):
    role_user("steward")
    page = client.get("/sign-in/")
    assert page.status_code == 200
    assert b'name="password"' in page.content
    response = client.post("/sign-in/", {"username": "web-steward", "password": "correct horse battery"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(client, role_user):
    role_user("steward")
    response = client.post("/sign-in/", {"username": "web-steward", "password": "wrong"})
    assert response.status_code == 200
    assert b"enter a correct username and password" in response.content


def test_signing_out_needs_a_post_and_ends_the_session(client_as):
    client = client_as("auditor")
    assert client.post("/sign-out/").status_code == 302
    assert client.get("/account/").status_code == 302


def test_the_menu_shows_only_what_the_role_may_use(client_as):
    page = client_as("nobody").get("/").content.decode()
    assert 'href="/"' in page
    assert "/consent/" not in page and "/audit/" not in page and "/reports/" not in page


def test_a_user_creates_a_token_and_sees_its_key_once(client_as, role_user):
    client = client_as("steward")
    response = client.post("/account/", {"name": "consent kiosk"})
    token = ApiToken.objects.get(user=role_user("steward"))
    page = response.content.decode()
    assert token.prefix in page and "id=\"new-key\"" in page
    assert "id=\"new-key\"" not in client.get("/account/").content.decode()


def test_a_user_revokes_a_token(client_as, role_user):
    client = client_as("steward")
    client.post("/account/", {"name": "kiosk"})
    token = ApiToken.objects.get()
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_nobody_revokes_another_users_token(client_as, role_user):
    client_as("steward").post("/account/", {"name": "kiosk"})
    token = ApiToken.objects.get()
    assert client_as("auditor").post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
