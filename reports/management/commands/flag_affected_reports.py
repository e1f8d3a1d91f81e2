from django.core.management.base import BaseCommand

from core.cli import actor_from_options, add_actor_argument
from reports import services


class Command(BaseCommand):
    help = "Flag approved reports whose audited people withdrew consent since (the reports are not changed)."

    def add_arguments(self, parser):
        add_actor_argument(parser)

    def handle(self, *args, **options):
        impacts = services.flag_affected_reports(actor=actor_from_options(options))
        for impact in impacts:
            self.stdout.write(f"{impact.report}: {len(impact.item_ids)} audited item(s) withdrawn since approval")
        if not impacts:
            self.stdout.write("No approved report is newly affected.")
