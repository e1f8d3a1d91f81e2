"""What every app's API module needs: token authentication with a role check, and a one-field error.

config/api.py mounts the apps' routers; it imports them, so they cannot import it: these live here.
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer

from core.tokens import user_for_key


class TokenAuth(HttpBearer):
    """A valid, unrevoked token (else 401) whose user holds every one of `permissions` (else 403).

    Ninja authenticates before it reads the request body, so a role that may not use an endpoint
    gets its 403 whatever it sent, never a validation error that describes the endpoint's input.
    """

    def __init__(self, *permissions: str, before_body: Callable[[HttpRequest], None] | None = None):
        super().__init__()
        self.permissions = permissions
        self.before_body = before_body

    def authenticate(self, request, token):
        user = user_for_key(token)
        if user is None:
            return None
        if not user.has_perms(self.permissions):
            raise PermissionDenied
        request.user = user
        if self.before_body is not None:
            self.before_body(request)
        return user


def allowed(*permissions: str, before_body: Callable[[HttpRequest], None] | None = None) -> TokenAuth:
    """An endpoint's `auth`: a token of a user with these permissions. `before_body(request)` runs once the
    user is allowed and before the body is read (to choose how an upload is received)."""
    return TokenAuth(*permissions, before_body=before_body)


class FieldError(HttpError):
    """A request the API refuses because of one field: 422 with that field's name."""

    def __init__(self, field: str, message: str, status_code: int = 422):
        super().__init__(status_code, message)
        self.field = field
