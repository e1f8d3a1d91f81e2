"""The one way services record what they changed."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.models import AuditLogEntry


@dataclass(frozen=True)
class Actor:
    """Who is making a change: a signed-in user, or a labelled non-interactive caller."""

    user: AbstractBaseUser | None
    label: str

    @classmethod
    def of_user(cls, user: AbstractBaseUser) -> "Actor":
        return cls(user=user, label=f"user:{user.get_username()}")

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(user=None, label=label)


def record(*, actor: Actor, action: str, object_type: str, object_id, before=None, after=None) -> AuditLogEntry:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"Audit log entry for {action} must be written inside the service's transaction")
    return AuditLogEntry.objects.create(
        actor=actor.user,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
    )
