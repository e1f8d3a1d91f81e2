from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consent import ledger


class Command(BaseCommand):
    help = (
        "Recompute the consent ledger's hash chain and compare it with every signed checkpoint; print OK with the "
        "count, or name the first broken event and the missing or rewritten range."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoints", dest="checkpoint_dirs", action="append", type=Path, metavar="DIR",
            help="a folder of checkpoint files to check against (repeatable; default: LEDGER_CHECKPOINT_DIR), "
            "such as a copy kept on other storage",
        )  # fmt: skip

    def handle(self, *args, **options):
        directories = options["checkpoint_dirs"]
        for directory in directories or []:
            if not directory.is_dir():
                raise CommandError(f"--checkpoints: {directory} is not a folder")
        check = ledger.verify(checkpoint_dirs=directories)
        if not check.ok:
            raise CommandError(check.summary())
        self.stdout.write(check.summary())
        if check.latest_checkpoint is None and check.count:
            where = ", ".join(str(d) for d in directories) if directories else settings.LEDGER_CHECKPOINT_DIR
            self.stderr.write(
                f"No signed checkpoints in {where}: a removed or rewritten tail would go unnoticed. "
                "Run `manage.py ledger_checkpoint` (and `--schedule` for the periodic task)."
            )
