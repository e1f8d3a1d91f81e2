from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent import services
from consent.errors import RuleViolation
from core.cli import actor_from_options, add_actor_argument


class Command(BaseCommand):
    help = "Publish a version of the consent notice (its text and the purposes it offers)."

    def add_arguments(self, parser):
        parser.add_argument("--notice-version", dest="notice_version", required=True)
        parser.add_argument("--language", required=True, help="BCP 47 tag, e.g. en")
        parser.add_argument("--title", required=True)
        parser.add_argument("--text-file", type=Path, required=True)
        parser.add_argument("--purposes", required=True, help="semicolon-separated, e.g. evaluation;bias_audit")
        parser.add_argument("--published-at", type=datetime.fromisoformat, help="ISO 8601 with offset")
        add_actor_argument(parser)

    def handle(self, *args, **options):
        published_at = options["published_at"]
        if published_at is not None and published_at.tzinfo is None:
            raise CommandError("--published-at needs a UTC offset, e.g. 2026-01-01T00:00:00+00:00")
        try:
            notice = services.publish_notice(
                actor=actor_from_options(options),
                version=options["notice_version"],
                language=options["language"],
                title=options["title"],
                text=options["text_file"].read_text(encoding="utf-8"),
                purposes=options["purposes"].split(";"),
                published_at=published_at,
            )
        except RuleViolation as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Published notice {notice.label} offering {', '.join(notice.purposes)}")
