import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.errors import RuleViolation
from core.cli import actor_from_options, add_actor_argument
from reports import services
from scoring.models import ModelVersion


class Command(BaseCommand):
    help = "Generate the draft quarterly report (PDF/A-3b with the evidence attached) and copy it to --out."

    def add_arguments(self, parser):
        parser.add_argument("--quarter", required=True, help="e.g. 2026-Q4")
        parser.add_argument("--model", help="NAME:VERSION (default: every model audited in the quarter)")
        parser.add_argument("--out", type=Path, required=True)
        add_actor_argument(parser)

    def handle(self, *args, **options):
        model = None
        if options["model"]:
            name, _, version = options["model"].partition(":")
            model = ModelVersion.objects.filter(name=name, version=version).first()
            if model is None:
                raise CommandError(f"no model version {options['model']!r} (write NAME:VERSION)")
        try:
            report = services.generate_report(actor=actor_from_options(options), quarter=options["quarter"],
                                              model=model)  # fmt: skip
        except (RuleViolation, PermissionError) as exc:
            raise CommandError(str(exc)) from None
        shutil.copyfile(services.report_file(report), options["out"])
        self.stdout.write(f"Report {report.report_id} (draft) written to {options['out']}")
