"""Sign-in throttling (django-axes, configured in config/settings.py) and the audit-log row of a failed sign-in.

Two locks, both lasting SIGN_IN_COOL_OFF_SECONDS from the failure that set them:

- an account from an address: AXES_FAILURE_LIMIT failures for one username from one address. Only that pair is
  locked, so someone guessing at an account from one address cannot lock its real user out from another;
- an address: SIGN_IN_ADDRESS_FAILURE_LIMIT failures from one address over all usernames (one address trying a
  few passwords on each of many accounts).

A locked sign-in gets the sign-in page again, 429, with the reason and when to retry (Retry-After).
"""

import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address, get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core import audit_log
from core.audit_log import Actor

ACCOUNT_LOCKED = (
    "Too many failed sign-ins for this username from your address. Signing in to it from here is paused; "
    "try again in {wait}."
)
ADDRESS_LOCKED = "Too many failed sign-ins from your address. Signing in from here is paused; try again in {wait}."
SIGN_IN = Actor.system("sign-in")


def _recent_attempts(request):
    since = get_cool_off_threshold(request)
    return AccessAttempt.objects.filter(ip_address=request.axes_ip_address, attempt_time__gte=since)


def address_failures(request) -> int:
    return _recent_attempts(request).aggregate(n=Sum("failures_since_start"))["n"] or 0


class AccountAndAddressHandler(AxesDatabaseHandler):
    """Axes' database handler, locking by (username, address) as AXES_LOCKOUT_PARAMETERS says, and also
    locking an address out once it has SIGN_IN_ADDRESS_FAILURE_LIMIT recent failures over all usernames."""

    def get_failures(self, request, credentials=None) -> int:
        failures = super().get_failures(request, credentials)
        if address_failures(request) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT:
            return max(failures, get_failure_limit(request, credentials))
        return failures


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def locked_out(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in page again, 429, saying which lock holds and for how long."""
    username = get_client_username(request, credentials) or ""
    by_address = address_failures(request) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
    attempts = _recent_attempts(request) if by_address else _recent_attempts(request).filter(username=username)
    latest = attempts.aggregate(at=Max("attempt_time"))["at"] or timezone.now()
    seconds = max(1, math.ceil((latest + settings.AXES_COOLOFF_TIME - timezone.now()).total_seconds()))
    message = (ADDRESS_LOCKED if by_address else ACCOUNT_LOCKED).format(wait=_wait_text(seconds))
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "next": request.POST.get("next", request.GET.get("next", "")), "lockout": message}
    response = render(request, "core/sign_in.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def username_digest(username: str) -> str:
    """A keyed hash of a typed username: attempts on one name can be matched, and a password typed into the
    username field is not kept. Compare with username_digest(name) to find a known name's failures."""
    return salted_hmac("core.sign_in.username", username.strip().casefold()).hexdigest()[:32]


def record_failed_sign_in(sender, credentials=None, request=None, **kwargs) -> None:
    """user_login_failed receiver: one audit-log row, with the typed username hashed, the address, and whether
    the sign-in is now locked. Never the password. Connected in CoreConfig.ready, after axes' own receiver."""
    typed = str((credentials or {}).get(get_user_model().USERNAME_FIELD) or "")
    address = getattr(request, "axes_ip_address", None) or (get_client_ip_address(request) if request else None)
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: typed}).first()
    with transaction.atomic():
        audit_log.record(
            actor=SIGN_IN, action="sign_in.fail",
            object_type="user" if user is not None else "sign_in", object_id=user.pk if user else "unknown user",
            after={"username_digest": username_digest(typed), "address": address,
                   "locked_out": bool(getattr(request, "axes_locked_out", False))},
        )  # fmt: skip
