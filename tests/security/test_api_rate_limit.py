"""API tokens are rate-limited: past API_TOKEN_RATE_LIMIT requests a minute, 429 with Retry-After (issue 13, part 5)."""

import pytest
from django.core.cache import cache

from core.audit_log import Actor
from core.tokens import issue_api_token, seconds_until_allowed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def limit(settings):
    cache.clear()
    settings.API_TOKEN_RATE_LIMIT = 3
    yield 3
    cache.clear()


def test_it_answers_429_with_retry_after_once_a_token_has_used_its_minute(api_as, subject):
    steward = api_as("steward")
    answers = [steward.get("/api/v1/consent/subjects/SUBJ-ADULT") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json() == {
        "message": f"Too many requests with this token; retry after {refused['Retry-After']} seconds.", "field": None
    }
    assert "SUBJ-ADULT" not in refused.content.decode()


def test_it_counts_each_token_apart(api_as, subject):
    steward, auditor = api_as("steward"), api_as("auditor")
    for _ in range(3):
        steward.get("/api/v1/consent/subjects/SUBJ-ADULT")
    assert steward.get("/api/v1/consent/subjects/SUBJ-ADULT").status_code == 429
    assert auditor.get("/api/v1/consent/subjects/SUBJ-ADULT").status_code == 200


def test_it_counts_refused_requests_too(api_as):
    nobody = api_as("nobody")
    assert [nobody.get("/api/v1/consent/ledger/verify").status_code for _ in range(4)] == [403, 403, 403, 429]


def test_the_limit_starts_over_with_the_next_minute(role_user):
    user = role_user("steward")
    token, _ = issue_api_token(actor=Actor.of_user(user), user=user, name="kiosk")
    start = 1_800_000_000.0  # the first second of a minute
    assert [seconds_until_allowed(token, now=start + n) for n in range(4)] == [0, 0, 0, 57]
    assert seconds_until_allowed(token, now=start + 60) == 0
