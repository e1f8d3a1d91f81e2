"""A bounded Schemathesis run over the whole API (issue 13, part 8): requests generated from the OpenAPI document,
valid ones and invalid ones, sent in-process (WSGI) to the app on the test database, with the token of a user who
may use every endpoint and with no token.

Every answer must be under 500 and carry a status that the document declares for its operation. The run is
bounded: MAX_EXAMPLES requests per operation, generation mode and token, derandomised (the same requests on every
run, so CI cannot flake), and no new operation is started once BUDGET_SECONDS have passed.
"""

import time

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import status_code_conformance

MAX_EXAMPLES = 30
BUDGET_SECONDS = 300

pytestmark = pytest.mark.slow


@pytest.fixture
def tokens(django_user_model):
    from core.audit_log import Actor
    from core.tokens import issue_api_token

    admin = django_user_model.objects.create_superuser("fuzz-admin", password="correct horse battery")
    _, key = issue_api_token(actor=Actor.of_user(admin), user=admin, name="schemathesis")
    return {"admin": {"Authorization": f"Bearer {key}"}, "no token": {}}


@pytest.fixture
def connection_kept_between_requests():
    """The requests go to the WSGI application itself, not through Django's test client, which is what keeps the
    test's connection (and its wrapping transaction) open across requests; do the same here."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def failures_of(operation, mode: GenerationMode, headers: dict) -> list[str]:
    found = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case):
        # Each request in a savepoint of its own, as in production each is in transactions of its own: on
        # PostgreSQL a refused statement would otherwise fail every later request of the test's transaction.
        with transaction.atomic():
            response = case.call(headers=headers)
        for check in (not_a_server_error, status_code_conformance):
            try:
                case.validate_response(response, checks=[check])
            except FailureGroup as group:  # every failure is reported at the end, not only the first
                for failure in group.exceptions:
                    found.append(f"{operation.label} ({mode.value}): {response.status_code}: {failure.title}")

    run()
    return found


def test_it_answers_generated_requests_without_a_5xx_and_only_with_declared_statuses(
    db, settings, subject, notice, dataset, tokens, connection_kept_between_requests
):
    from config.wsgi import application

    settings.API_TOKEN_RATE_LIMIT = 10**9
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    started, failures, operations = time.monotonic(), [], 0
    for result in schema.get_all_operations():
        if time.monotonic() - started > BUDGET_SECONDS:
            break
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for headers in tokens.values():
                failures.extend(failures_of(operation, mode, headers))
    declared = sum(len(spec) for spec in schema.raw_schema["paths"].values())
    assert operations == declared >= 20, "the budget ran out before every operation was tried"
    assert not failures, "\n".join(sorted(set(failures)))
