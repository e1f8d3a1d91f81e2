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


def test_a_validation_error_names_the_field_without_where_it_came_from():
    from config.api import _location

    assert _location(("body", "payload", "purposes", 0)) == "purposes.0"
    assert _location(("file", "file")) == "file"
    assert _location(("query", "period")) == "period"
    assert _location(()) is None


def test_the_schema_and_its_docs_are_public_and_hold_no_data(client):
    # Integrators read them before they have a token; they describe endpoints, never records.
    assert client.get("/api/v1/docs").status_code == 200


def test_an_unexpected_error_is_json_too(api_as, monkeypatch):
    from scoring import api as scoring_api

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(scoring_api, "require", explode)
    response = api_as("officer").get("/api/v1/scoring/models")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal error; it has been logged.", "field": None}
