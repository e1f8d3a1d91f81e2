from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.audit_log import Actor
from core.tokens import issue_api_token


class Command(BaseCommand):
    help = "Create an API token for a user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what will use the token, e.g. 'consent kiosk'")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        try:
            token, key = issue_api_token(actor=Actor.system("cli"), user=user, name=options["name"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"Token {token.prefix}… for {user.get_username()} ({token.name}); the key, shown once:")
        self.stdout.write(key)
