"""A locked or lost database answers 503 with Retry-After, on pages and in the API (issue 13, part 7).

Here the database fails through Django's own hook into every query (`connection.execute_wrapper`), the way
SQLite and PostgreSQL fail: OperationalError("database is locked"), or InterfaceError once a connection is lost.
tests/security/test_worker_faults.py holds a real lock on a real SQLite file.
"""

import json

import pytest
from django.db import DataError, InterfaceError, OperationalError, ProgrammingError, connection
from django.test import RequestFactory

from core.faults import server_error

pytestmark = pytest.mark.django_db


def failing(error):
    def execute(run, sql, params, many, context):
        raise error

    return execute


@pytest.fixture
def grant_body():
    return json.dumps({"event_id": "kiosk-1", "subject": "SUBJ-ADULT", "purposes": ["evaluation"],
                       "notice_version": "1", "channel": "in_app"})  # fmt: skip


LOCKED = OperationalError("database is locked")
LOST = InterfaceError("connection already closed")


@pytest.mark.parametrize("error", [LOCKED, LOST], ids=["locked", "lost"])
def test_it_answers_the_api_with_a_json_503_and_retry_after(api_as, subject, notice, grant_body, error, settings):
    steward = api_as("steward")
    with connection.execute_wrapper(failing(error)):
        answer = steward.post("/api/v1/consent/events/grant", grant_body, content_type="application/json")
    assert answer.status_code == 503
    assert answer["Retry-After"] == str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)
    assert answer.json() == {
        "message": "The database is busy or unreachable. Nothing was changed; try again in 5 seconds.", "field": None
    }


@pytest.mark.parametrize("error", [LOCKED, LOST], ids=["locked", "lost"])
def test_it_answers_a_page_with_a_short_503_page_and_retry_after(client_as, error):
    steward = client_as("steward")
    for path in ("/consent/subjects/", "/healthz"):
        with connection.execute_wrapper(failing(error)):
            answer = steward.get(path)
        assert answer.status_code == 503, path
        assert answer["Retry-After"] == "5"
        assert "Temporarily unavailable" in answer.content.decode()
        assert "Traceback" not in answer.content.decode()


def test_it_answers_503_for_a_database_error_raised_in_a_middleware():
    request = RequestFactory().get("/")
    try:
        raise LOCKED
    except OperationalError:
        answer = server_error(request)
    assert (answer.status_code, answer["Retry-After"]) == (503, "5")


def test_a_value_the_database_refuses_is_the_requests_fault_not_a_500(api_as):
    # PostgreSQL refuses a NUL character in text (Schemathesis sent one: GET /api/v1/audit/runs?model=%00 was a 500).
    officer = api_as("officer")
    with connection.execute_wrapper(failing(DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))):
        answer = officer.get("/api/v1/audit/runs?model=%00")
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("A value in the request cannot be stored or looked up")
    assert officer.get("/api/v1/audit/runs?model=%00").status_code in (200, 422)  # for real: SQLite finds nothing


def test_other_database_errors_stay_500s(api_as, subject):
    steward = api_as("steward")
    with connection.execute_wrapper(failing(ProgrammingError("relation does not exist"))):
        answer = steward.get("/api/v1/consent/subjects/SUBJ-ADULT")
    assert answer.status_code == 500 and "Retry-After" not in answer


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite reports a wrong query as OperationalError too")
def test_a_wrong_query_on_sqlite_stays_a_500(api_as, subject):
    steward = api_as("steward")
    with connection.execute_wrapper(failing(OperationalError("no such table: consent_subject"))):
        answer = steward.get("/api/v1/consent/subjects/SUBJ-ADULT")
    assert answer.status_code == 500
