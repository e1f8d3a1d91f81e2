"""What every app's API module needs: token authentication with a role check, and a one-field error.

config/api.py mounts the apps' routers; it imports them, so they cannot import it: these live here.
"""

from django.core.exceptions import PermissionDenied
from ninja.errors import HttpError
from ninja.security import HttpBearer

from core.tokens import user_for_key


class TokenAuth(HttpBearer):
    """A valid, unrevoked token (else 401) whose user holds every one of `permissions` (else 403).

    Ninja authenticates before it reads the request body, so a role that may not use an endpoint
    gets its 403 whatever it sent, never a validation error that describes the endpoint's input.
    """

    def __init__(self, *permissions: str):
        super().__init__()
        self.permissions = permissions

    def authenticate(self, request, token):
        user = user_for_key(token)
        if user is None:
            return None
        if not user.has_perms(self.permissions):
            raise PermissionDenied
        request.user = user
        return user


def allowed(*permissions: str) -> TokenAuth:
    """An endpoint's `auth`: a token of a user with these permissions."""
    return TokenAuth(*permissions)


class FieldError(HttpError):
    """A request the API refuses because of one field: 422 with that field's name."""

    def __init__(self, field: str, message: str, status_code: int = 422):
        super().__init__(status_code, message)
        self.field = field
