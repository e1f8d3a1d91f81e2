"""The REST API (Django Ninja): /api/v1/, OpenAPI at /api/v1/openapi.json, per-user bearer tokens.

Every error is JSON: {"message": "...", "field": "name.of.field" or null}; validation errors also list
every problem under "errors".
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from consent.errors import RuleViolation
from core.api import TokenAuth

api = NinjaAPI(
    title="Bias-audit platform API",
    version="1",
    description="Consent events, subjects, data items, evaluation sets, audit runs and quarterly reports.",
    auth=TokenAuth(),
    urls_namespace="api",
)
logger = logging.getLogger(__name__)


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


@api.exception_handler(Exception)
def on_unexpected(request, exc):
    logger.exception("API %s %s failed", request.method, request.path)
    return error(request, 500, "Internal error; it has been logged.")


api.add_router("/consent/", "consent.api.router", tags=["consent"])
api.add_router("/scoring/", "scoring.api.router", tags=["evaluation sets and models"])
api.add_router("/audit/", "audit.api.router", tags=["audit runs"])
api.add_router("/reports/", "reports.api.router", tags=["reports"])
