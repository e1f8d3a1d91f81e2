from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reports.verification import verify_report


class Command(BaseCommand):
    help = "Say whether a PDF is an approved report of this platform, signed, with the evidence it stored."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        result = verify_report(path.read_bytes())
        for ok, message in result.checks:
            self.stdout.write(f"  [{'ok' if ok else 'FAIL'}] {message}")
        if not result.authentic:
            raise CommandError(f"{path.name} is NOT a verified approved report")
        self.stdout.write(f"{path.name} is approved report {result.report.report_id}, verified.")
