"""API tokens: issue, revoke, and look up the user behind a presented key."""

import hashlib
import math
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core import audit_log
from core.audit_log import Actor
from core.models import ApiToken

TOKEN_PREFIX = "bat_"  # noqa: S105 - a fixed label that marks our keys, not a secret
# Recording every use would turn each API read into a write; once a minute is enough to see a token is alive.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_token(*, actor: Actor, user, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it with the key, which is not stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValueError("name: say what will use this token")
    if actor.user is not None and actor.user.pk != user.pk:
        raise PermissionError(f"{actor.label} may not create tokens for another user")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name[:100], prefix=key[:12], key_hash=hash_key(key))
        audit_log.record(
            actor=actor, action="api_token.issue", object_type="api_token", object_id=token.pk,
            after={"user": user.get_username(), "name": token.name, "prefix": token.prefix},
        )  # fmt: skip
    return token, key


def revoke_api_token(*, actor: Actor, token: ApiToken) -> ApiToken:
    if actor.user is not None and actor.user.pk != token.user_id and not actor.user.is_superuser:
        raise PermissionError(f"{actor.label} may not revoke another user's token")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_log.record(
                actor=actor, action="api_token.revoke", object_type="api_token", object_id=token.pk,
                after={"prefix": token.prefix},
            )  # fmt: skip
    return token


def user_for_key(key: str):
    """The active user behind a key, or None. Marks the token as used (at most once a minute)."""
    token = token_for_key(key)
    return None if token is None else token.user


def token_for_key(key: str) -> ApiToken | None:
    """The unrevoked token of an active user behind a key (its user loaded), or None. Marks it as used (at most
    once a minute)."""
    if not key or not key.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_key(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


RATE_WINDOW_SECONDS = 60


def seconds_until_allowed(token: ApiToken, *, now: float | None = None) -> int:
    """Count one request of `token`; 0 while it is within API_TOKEN_RATE_LIMIT requests this minute, else how
    many seconds until the next minute starts (the Retry-After of its 429).

    A fixed window per clock minute, counted in the default cache under the token's hash (never its key), so
    counting costs no database write.
    """
    now = time.time() if now is None else now
    window = int(now // RATE_WINDOW_SECONDS)
    name = f"api-token-rate:{token.key_hash[:32]}:{window}"
    cache.add(name, 0, timeout=2 * RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=2 * RATE_WINDOW_SECONDS)
        count = 1
    if count <= settings.API_TOKEN_RATE_LIMIT:
        return 0
    return max(1, math.ceil((window + 1) * RATE_WINDOW_SECONDS - now))
