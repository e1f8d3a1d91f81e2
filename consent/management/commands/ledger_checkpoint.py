from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consent import checkpoints
from core.cli import actor_from_options, add_actor_argument
from core.signing_key import SigningKeyMissing


class Command(BaseCommand):
    help = (
        "Sign the consent ledger's head (sequence, hash, time) with the organisation's key and write it to "
        "LEDGER_CHECKPOINT_DIR, outside the database; `verify_ledger` checks the ledger against every checkpoint."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule", action="store_true",
            help="also start the periodic task that writes a checkpoint every LEDGER_CHECKPOINT_INTERVAL seconds "
            "when the head moved (run by `manage.py db_worker`); nothing happens if it is queued already",
        )  # fmt: skip
        add_actor_argument(parser)

    def handle(self, *args, **options):
        actor = actor_from_options(options)
        try:
            written = checkpoints.write_checkpoint(actor=actor)
        except (SigningKeyMissing, checkpoints.CheckpointRefused) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(written.summary())
        if options["schedule"]:
            result = checkpoints.schedule_checkpoints(actor=actor)
            if result is None:
                self.stdout.write("The periodic checkpoint task is queued already.")
            else:
                self.stdout.write(
                    f"Started the periodic checkpoint task (every {settings.LEDGER_CHECKPOINT_INTERVAL} s; "
                    f"task {result.id}); `manage.py db_worker` runs it."
                )
