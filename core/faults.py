"""A locked or unreachable database is a moment's unavailability, not a server error: 503 with Retry-After.

SQLite answers a write that waited its busy timeout with OperationalError("database is locked"); PostgreSQL
raises OperationalError when it cannot be reached or drops the connection (InterfaceError once the connection
is closed). Pages get a short 503 page (DatabaseUnavailableMiddleware, and `server_error` for an error raised
in a middleware), the API a JSON 503 (config/api.py), and `manage.py db_worker` backs off and polls again
(core/worker.py). Every other error stays a 500.
"""

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.shortcuts import render
from django.views import defaults

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "The database is busy or unreachable. Nothing was changed; try again in {seconds} seconds."

# SQLite raises OperationalError for mistakes in SQL as well ("no such table"); these are the transient ones.
_SQLITE_TRANSIENT = ("locked", "busy", "unable to open database", "disk i/o error")


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is locked, busy or unreachable (worth retrying), not that a query is wrong."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if connection.vendor != "sqlite":
        return True  # PostgreSQL's OperationalError: connection, lock and cancellation failures
    message = str(exc).lower()
    return any(marker in message for marker in _SQLITE_TRANSIENT)


def retry_after() -> int:
    return settings.DATABASE_UNAVAILABLE_RETRY_AFTER


def unavailable_page(request):
    """The 503 page. It extends no base template: the base reads the session and the user, from the database."""
    seconds = retry_after()
    response = render(
        request, "core/unavailable.html", {"message": UNAVAILABLE_MESSAGE.format(seconds=seconds)}, status=503
    )
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turns a view's database-unavailable error into the 503 page; any other error goes on to the 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        logger.warning("%s %s: database unavailable (%s); answered 503", request.method, request.path, exception)
        return unavailable_page(request)


def server_error(request):
    """handler500: the 503 page when the error being handled is the database's (raised in a middleware, where
    DatabaseUnavailableMiddleware does not see it), Django's 500 page otherwise."""
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        return unavailable_page(request)
    return defaults.server_error(request)
