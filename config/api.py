"""The REST API (Django Ninja): /api/v1/, OpenAPI at /api/v1/openapi.json, per-user bearer tokens.

Every error is JSON: {"message": "...", "field": "name.of.field" or null}; validation errors also list
every problem under "errors".
"""

import logging

from django.core.exceptions import PermissionDenied
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from consent.errors import RuleViolation
from core.api import RateLimited, TokenAuth
from core.faults import UNAVAILABLE_MESSAGE, database_unavailable, retry_after

# The answers every operation can give whatever its route does, from the machinery around the routes: the token
# check (core.api.TokenAuth), the rate limit, input validation and the exception handlers below. They are declared
# here once, for every operation; what a route itself answers (201, 404 for a name in the body, 409) it declares.
ERROR_SCHEMA = {
    "title": "ApiError",
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "field": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "the field at fault, if one is"},
        "errors": {
            "type": "array",
            "description": "validation errors: every problem, each with its field",
            "items": {"type": "object", "properties": {"field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                                                       "message": {"type": "string"}}},
        },
    },
    "required": ["message", "field"],
}  # fmt: skip
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
COMMON_RESPONSES = {
    # status: (description, applies to an operation that ..., extra)
    400: ("The request body cannot be parsed", "has_body", {}),
    401: ("No valid API token (Authorization: Bearer <token>)", "secured", {}),
    403: ("The token's user has no role that may use this endpoint", "secured", {}),
    404: ("Nothing with that name or id", "has_path_parameters", {}),
    422: ("A parameter or a field of the body is invalid; `field` names it", "has_input", {}),
    429: ("Too many requests with this token this minute", "secured", {"headers": RETRY_AFTER}),
    503: ("The database is busy or unreachable; nothing was changed", "always", {"headers": RETRY_AFTER}),
}


class PlatformAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["ApiError"] = ERROR_SCHEMA
        for methods in schema["paths"].values():
            for operation in methods.values():
                _declare_common_responses(operation)
        return schema


def _declare_common_responses(operation: dict) -> None:
    parameters = operation.get("parameters", [])
    applies = {
        "always": True,
        "secured": bool(operation.get("security")),
        "has_body": "requestBody" in operation,
        "has_input": bool(parameters) or "requestBody" in operation,
        "has_path_parameters": any(p.get("in") == "path" for p in parameters),
    }
    responses = operation.setdefault("responses", {})
    for status, (description, condition, extra) in COMMON_RESPONSES.items():
        if applies[condition] and str(status) not in responses and status not in responses:
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
                **extra,
            }


api = PlatformAPI(
    title="Bias-audit platform API",
    version="1",
    description="Consent events, subjects, data items, evaluation sets, audit runs and quarterly reports.",
    auth=TokenAuth(),
    urls_namespace="api",
)
logger = logging.getLogger(__name__)
UNSTORABLE_VALUE = "A value in the request cannot be stored or looked up (a NUL character, or a number out of range)."


def error(request, status: int, message: str, field: str | None = None, **extra):
    return api.create_response(request, {"message": message, "field": field, **extra}, status=status)


def _location(loc) -> str | None:
    # Ninja prefixes where a value came from ("body", "query", ...); an upload repeats its name ("file", "file").
    parts = []
    for part in map(str, loc):
        if part not in ("body", "query", "path", "payload", "form") and (not parts or parts[-1] != part):
            parts.append(part)
    return ".".join(parts) or None


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    problems = [{"field": _location(e.get("loc", ())), "message": e.get("msg", "invalid value")} for e in exc.errors]
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    return error(request, 422, first["message"], first["field"], errors=problems)


@api.exception_handler(RuleViolation)
def on_rule_violation(request, exc: RuleViolation):
    problems = [{"field": field, "message": message} for field, message in exc.problems]
    return error(request, 422, problems[0]["message"], problems[0]["field"], errors=problems)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return error(request, 401, "Send a valid API token: Authorization: Bearer <token>")


@api.exception_handler(PermissionDenied)
def on_forbidden(request, exc):
    return error(request, 403, "Your role may not use this endpoint.")


@api.exception_handler(PermissionError)
def on_service_refusal(request, exc):
    return error(request, 403, "Your role may not use this endpoint.")


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error(request, 404, str(exc) or "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return error(request, exc.status_code, str(exc.message), getattr(exc, "field", None))


@api.exception_handler(RateLimited)
def on_rate_limited(request, exc: RateLimited):
    response = error(request, 429, str(exc.message))
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_error(request, exc):
    """A locked or unreachable database: 503 with Retry-After; the request changed nothing and can be repeated
    (consent events by their event_id). Any other database error is a 500."""
    if not database_unavailable(exc):
        return on_unexpected(request, exc)
    logger.warning("API %s %s: database unavailable (%s); answered 503", request.method, request.path, exc)
    seconds = retry_after()
    response = error(request, 503, UNAVAILABLE_MESSAGE.format(seconds=seconds))
    response["Retry-After"] = str(seconds)
    return response


@api.exception_handler(DataError)
def on_unstorable_value(request, exc):
    """A value the database cannot hold or compare: PostgreSQL refuses a NUL character in text, and a number out
    of its range. It came in the request, so it is the request's fault (422), not the server's."""
    logger.info("API %s %s: a value the database refuses (%s); answered 422", request.method, request.path, exc)
    return error(request, 422, UNSTORABLE_VALUE)


@api.exception_handler(Exception)
def on_unexpected(request, exc):
    logger.exception("API %s %s failed", request.method, request.path)
    return error(request, 500, "Internal error; it has been logged.")


api.add_router("/consent/", "consent.api.router", tags=["consent"])
api.add_router("/scoring/", "scoring.api.router", tags=["evaluation sets and models"])
api.add_router("/audit/", "audit.api.router", tags=["audit runs"])
api.add_router("/reports/", "reports.api.router", tags=["reports"])
