from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.signing import create_signing_key


class Command(BaseCommand):
    help = "Make a self-signed key and certificate that sign approved reports (single-machine setups)."

    def add_arguments(self, parser):
        parser.add_argument("--common-name", default="Bias report signing")
        parser.add_argument("--days", type=int, default=3 * 365)
        parser.add_argument("--overwrite", action="store_true", help="replace an existing key; the old certificate "
                            "is kept under retired/ so that reports signed with it still verify")  # fmt: skip

    def handle(self, *args, **options):
        try:
            key, cert = create_signing_key(
                common_name=options["common_name"], organisation=settings.ORGANISATION_NAME, days=options["days"],
                overwrite=options["overwrite"],
            )  # fmt: skip
        except FileExistsError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Signing key: {key}\nCertificate: {cert} (self-signed, {options['days']} days)")
