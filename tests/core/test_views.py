import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from core.models import ApiToken

pytestmark = pytest.mark.django_db

OPEN = ("sign-in/", "sign-out/", "healthz", "api/v1/", "admin/")  # the API answers 401; the admin signs in itself
SAMPLE_ARGUMENTS = {"int": "1", "uuid": "6f1c2a6e-0c5e-4a8e-9d1e-2b7f3a1c9e10", "slug": "BR-2026-Q4-0001", "str": "x"}


def every_route(patterns=None, prefix=""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from every_route(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def sample_path(route: str) -> str:
    return "/" + re.sub(r"<(\w+):\w+>", lambda match: SAMPLE_ARGUMENTS[match.group(1)], route)


def test_every_page_sends_a_signed_out_visitor_to_sign_in(client_as):
    client = client_as(None)
    paths = [sample_path(route) for route in every_route() if not route.startswith(OPEN)]
    assert "/account/" in paths and "/reports/BR-2026-Q4-0001/approve/" in paths and len(paths) > 35
    for path in paths:
        answers = {method: getattr(client, method)(path) for method in ("get", "post")}
        for method, response in answers.items():
            assert response.status_code in (302, 405), (method, path)
            assert response.content == b"", (method, path)
        assert any(r.status_code == 302 and r["Location"].startswith("/sign-in/?next=") for r in answers.values()), path


def test_the_health_check_answers_without_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("role", ["steward", "officer", "nobody"])
def test_the_admin_sends_users_without_staff_status_to_its_sign_in(client_as, role):
    for client in (client_as(None), client_as(role)):
        response = client.get("/admin/consent/subject/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
        assert response.content == b""


@pytest.mark.parametrize("role", ["steward", "officer", "auditor", "nobody"])
def test_every_signed_in_user_manages_their_own_tokens(client_as, role):
    page = client_as(role).get("/account/")
    assert page.status_code == 200
    assert "Create token" in page.content.decode()


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
    assert client.get("/sign-out/").status_code == 405
    assert client.get("/account/").status_code == 200
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
    refused = client_as("auditor").post(f"/account/tokens/{token.pk}/revoke/")
    assert refused.status_code == 404
    assert token.prefix not in refused.content.decode() and "kiosk" not in refused.content.decode()
    assert client_as(None).post(f"/account/tokens/{token.pk}/revoke/")["Location"].startswith("/sign-in/")
    token.refresh_from_db()
    assert token.revoked_at is None
