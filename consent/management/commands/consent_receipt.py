import json

from django.core.management.base import BaseCommand, CommandError

from consent.receipts import consent_receipt
from consent.selectors import subject_by_reference


class Command(BaseCommand):
    help = "Print (or write) a subject's consent receipt as Kantara Consent Receipt v1.1 JSON."

    def add_arguments(self, parser):
        parser.add_argument("subject", help="the subject's reference")
        parser.add_argument("--out", help="write the receipt to this file instead of printing it")

    def handle(self, *args, **options):
        subject = subject_by_reference(options["subject"])
        if subject is None:
            raise CommandError(f"no subject with reference {options['subject']!r}")
        text = json.dumps(consent_receipt(subject), indent=2, ensure_ascii=False)
        if options["out"]:
            with open(options["out"], "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            self.stdout.write(f"Wrote {options['out']}")
        else:
            self.stdout.write(text)
