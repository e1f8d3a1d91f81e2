from django.core.management.base import BaseCommand, CommandError

from consent import ledger


class Command(BaseCommand):
    help = "Recompute the consent ledger's hash chain; print OK with the count, or name the first broken event."

    def handle(self, *args, **options):
        check = ledger.verify()
        if not check.ok:
            raise CommandError(check.summary())
        self.stdout.write(check.summary())
