import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

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
        shutil.copyfile(report_file(report), options["out"])
        self.stdout.write(f"Report {report.report_id} ({report.status}) written to {options['out']}")
