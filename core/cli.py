"""Helpers shared by management commands."""

import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from core.audit_log import Actor


def add_actor_argument(parser) -> None:
    parser.add_argument(
        "--as-user",
        dest="as_user",
        help="username recorded in the audit log as the actor (default: the operating-system user)",
    )


def actor_from_options(options) -> Actor:
    username = options.get("as_user")
    if not username:
        return Actor.system(f"cli:{getpass.getuser()}")
    try:
        user = get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"--as-user: no user named {username!r}") from None
    return Actor.of_user(user)
