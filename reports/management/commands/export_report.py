from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.rules.ledger import sha256_hex
from reports.models import Report
from reports.services import report_file


class Command(BaseCommand):
    help = "Copy a report's current PDF (the signed one, once approved) to a file."

    def add_arguments(self, parser):
        parser.add_argument("report_id")
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args, **options):
        report = Report.objects.filter(report_id=options["report_id"]).first()
        if report is None:
            raise CommandError(f"no report {options['report_id']!r}")
        data = report_file(report).read_bytes()
        if sha256_hex(data) != report.pdf_sha256:
            raise CommandError(f"the stored file of {report.report_id} does not match its recorded SHA-256; not copied")
        options["out"].write_bytes(data)
        self.stdout.write(f"Report {report.report_id} ({report.status}) written to {options['out']}")
