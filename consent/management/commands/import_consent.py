from django.core.management.base import BaseCommand

from consent.errors import ImportFailed
from consent.importing.cli import add_source_arguments, read_source, report_failure
from consent.importing.consent_events import import_consent_events
from core.cli import actor_from_options, add_actor_argument


class Command(BaseCommand):
    help = (
        "Import consent events (grants, withdrawals, erasures) from CSV, Parquet or SQL. "
        "All rows are checked first; one bad row imports nothing. Re-importing the same events is a no-op."
    )

    def add_arguments(self, parser):
        add_source_arguments(parser)
        add_actor_argument(parser)

    def handle(self, *args, **options):
        actor = actor_from_options(options)
        try:
            table = read_source(options)
            result = import_consent_events(
                actor=actor, frame=table.frame, source_name=table.source_name, source_sha256=table.sha256
            )
        except ImportFailed as failure:
            raise report_failure(self, failure) from None
        self.stdout.write(
            f"Imported {result.created} consent events from {result.rows} rows "
            f"({result.unchanged} already recorded, {result.new_subjects} new subjects); batch {result.batch.pk}"
        )
