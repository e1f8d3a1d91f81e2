"""What every app's API module needs: token authentication with a role check and a rate limit, a one-field
error, and bounded paging.

config/api.py mounts the apps' routers; it imports them, so they cannot import it: these live here.
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, PageNumberPagination
from ninja.security import HttpBearer

from core.tokens import seconds_until_allowed, token_for_key

RATE_LIMITED = "Too many requests with this token; retry after {seconds} seconds."


class RateLimited(HttpError):
    """429: the token has used its requests for this minute; `retry_after` seconds until the next one."""

    def __init__(self, retry_after: int):
        super().__init__(429, RATE_LIMITED.format(seconds=retry_after))
        self.retry_after = retry_after


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
        api_token = token_for_key(token)
        if api_token is None:
            return None
        wait = seconds_until_allowed(api_token)
        if wait:
            raise RateLimited(wait)
        user = api_token.user
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


# Paging ---------------------------------------------------------------------------------------------

MAX_PAGE = 100  # the most rows a page of any list holds
# Past any list's length, and far inside the database's 64-bit integers, which an unbounded offset overflowed.
MAX_OFFSET = 2**31 - 1


class LimitOffsetPages(LimitOffsetPagination):
    """Ninja's limit/offset paging with both parameters bounded: a `limit` or `offset` under its minimum or past
    MAX_OFFSET is a 422 naming the parameter (the bounds are in the OpenAPI document). A `limit` over MAX_PAGE
    still gets MAX_PAGE rows, as it always has."""

    class Input(Schema):
        limit: int = Field(MAX_PAGE, ge=1, le=MAX_OFFSET, description=f"rows per page; at most {MAX_PAGE} are sent")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="rows to skip")

    def __init__(self, **kwargs):
        super().__init__(max_limit=MAX_PAGE, **kwargs)


class PageNumberPages(PageNumberPagination):
    """Ninja's page-number paging with `page` and `page_size` bounded (422 naming the parameter past them); a
    `page_size` over MAX_PAGE gets MAX_PAGE rows."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_OFFSET // MAX_PAGE, description="1 for the first page")
        page_size: int | None = Field(
            None, ge=1, le=MAX_OFFSET, description=f"rows per page; at most {MAX_PAGE} are sent"
        )

    def __init__(self, **kwargs):
        kwargs.setdefault("max_page_size", MAX_PAGE)
        super().__init__(**kwargs)
