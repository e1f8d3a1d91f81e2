import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_is_served_at_a_stable_url(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Bias-audit platform API"


def test_a_request_without_a_token_gets_a_json_401_with_a_message(client):
    response = client.get("/api/v1/consent/subjects/SUBJ-1")
    assert response.status_code == 401
    assert response.json() == {"message": "Send a valid API token: Authorization: Bearer <token>", "field": None}


def test_a_revoked_or_unknown_token_gets_401(client):
    response = client.get("/api/v1/consent/subjects/SUBJ-1", headers={"Authorization": "Bearer bat_nope"})
    assert response.status_code == 401
