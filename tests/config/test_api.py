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


def test_an_unknown_token_gets_401(client):
    response = client.get("/api/v1/consent/subjects/SUBJ-1", headers={"Authorization": "Bearer bat_nope"})
    assert response.status_code == 401
    assert response.json()["message"].startswith("Send a valid API token")


def test_a_revoked_token_stops_working_at_once(client, role_user, subject):
    from core.audit_log import Actor
    from core.tokens import issue_api_token, revoke_api_token

    steward = role_user("steward")
    token, key = issue_api_token(actor=Actor.of_user(steward), user=steward, name="kiosk")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/consent/subjects/SUBJ-ADULT", headers=headers).status_code == 200
    revoke_api_token(actor=Actor.of_user(steward), token=token)
    refused = client.get("/api/v1/consent/subjects/SUBJ-ADULT", headers=headers)
    assert refused.status_code == 401
    assert "SUBJ-ADULT" not in refused.content.decode()


def test_a_validation_error_names_the_field_without_where_it_came_from():
    from config.api import _location

    assert _location(("body", "payload", "purposes", 0)) == "purposes.0"
    assert _location(("file", "file")) == "file"
    assert _location(("query", "period")) == "period"
    assert _location(()) is None


def test_the_schema_and_its_docs_are_public_and_hold_no_data(client, subject):
    # Integrators read them before they have a token; they describe endpoints, never records.
    docs, schema = client.get("/api/v1/docs"), client.get("/api/v1/openapi.json")
    assert docs.status_code == 200 and schema.status_code == 200
    assert "openapi.json" in docs.content.decode()
    for body in (docs.content.decode(), schema.content.decode()):
        assert subject.reference not in body and str(subject.key) not in body


def test_the_schema_lists_every_endpoint_behind_one_bearer_scheme(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {"TokenAuth": {"type": "http", "scheme": "bearer"}}
    paths = schema["paths"]
    assert {
        "/api/v1/consent/events/grant": {"post"},
        "/api/v1/consent/events/withdraw": {"post"},
        "/api/v1/consent/events/erase": {"post"},
        "/api/v1/consent/subjects/{reference}": {"get"},
        "/api/v1/consent/items": {"get"},
        "/api/v1/consent/ledger/verify": {"get"},
        "/api/v1/scoring/evaluation-sets": {"get"},
        "/api/v1/scoring/evaluation-sets/{set_id}": {"get"},
        "/api/v1/scoring/models": {"get"},
        "/api/v1/audit/policies": {"get", "post"},
        "/api/v1/audit/runs": {"get", "post"},
        "/api/v1/audit/runs/{run_id}": {"get"},
        "/api/v1/audit/runs/{run_id}/cancel": {"post"},
        "/api/v1/audit/runs/{run_id}/results": {"get"},
        "/api/v1/audit/runs/{run_id}/evidence": {"get"},
        "/api/v1/reports/": {"get"},
        "/api/v1/reports/{report_id}": {"get"},
        "/api/v1/reports/{report_id}/download": {"get"},
        "/api/v1/reports/verify": {"post"},
    } == {path: set(operations) for path, operations in paths.items()}


def test_an_unexpected_error_is_json_too(api_as, monkeypatch):
    from scoring import api as scoring_api

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(scoring_api.selectors, "model_versions", explode)
    response = api_as("officer").get("/api/v1/scoring/models")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal error; it has been logged.", "field": None}


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("auditor", "/api/v1/consent/events/grant"),
        ("officer", "/api/v1/consent/events/erase"),
        ("auditor", "/api/v1/audit/runs"),
        ("steward", "/api/v1/audit/runs"),
    ],
)
def test_a_role_that_may_not_write_gets_403_whatever_it_sent_never_a_validation_error(api_as, role, path):
    response = api_as(role).post(path, data={}, content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"message": "Your role may not use this endpoint.", "field": None}


@pytest.mark.parametrize("module", ["consent.api", "scoring.api", "audit.api", "reports.api"])
def test_an_apps_api_module_imports_before_the_api_that_mounts_it(module):
    # A cycle (the API imports the routers, a router importing the API) broke whichever was imported first.
    import subprocess
    import sys

    code = f"import django; django.setup(); import {module}; from config.api import api; print(len(api._routers))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
