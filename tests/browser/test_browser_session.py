import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from tests.browser.conftest import chromium

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_database_connection_a_browser_session_opens_is_closed_with_it(monkeypatch):
    """Left open, it kept PostgreSQL from dropping the test database at the end of the run."""
    if connections["default"].vendor == "sqlite" and connections["default"].is_in_memory_db():
        pytest.skip("Django never closes an in-memory SQLite test database, so nothing can outlive it")
    with chromium(monkeypatch):
        get_user_model().objects.count()
        during = connections["default"]
        assert during.connection is not None

    assert connections["default"] is not during
    assert during.connection is None
