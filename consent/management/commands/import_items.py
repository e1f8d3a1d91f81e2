from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.errors import ImportFailed
from consent.importing.cli import add_source_arguments, read_source, report_failure
from consent.importing.items import import_items
from consent.models import Dataset
from core.cli import actor_from_options, add_actor_argument


class Command(BaseCommand):
    help = (
        "Import data items of a dataset: item_ref, subject, source, kind, the schema's attribute columns, "
        "feature_* columns for tabular items and image_path for images. One bad row imports nothing."
    )

    def add_arguments(self, parser):
        add_source_arguments(parser)
        parser.add_argument("--dataset", required=True, help="NAME or NAME:VERSION")
        parser.add_argument("--files-dir", type=Path, help="folder that image_path values are relative to")
        add_actor_argument(parser)

    def handle(self, *args, **options):
        dataset = _dataset(options["dataset"])
        actor = actor_from_options(options)
        try:
            table = read_source(options)
            result = import_items(
                actor=actor, dataset=dataset, frame=table.frame, source_name=table.source_name,
                source_sha256=table.sha256, files_dir=options["files_dir"],
            )  # fmt: skip
        except ImportFailed as failure:
            raise report_failure(self, failure) from None
        self.stdout.write(
            f"Imported {result.created} items into {dataset} from {result.rows} rows "
            f"({result.unchanged} already present); batch {result.batch.pk}"
        )


def _dataset(spec: str) -> Dataset:
    name, _, version = spec.partition(":")
    datasets = Dataset.objects.filter(name=name)
    if version:
        datasets = datasets.filter(version=version)
    found = list(datasets.order_by("-created_at")[:2])
    if not found:
        raise CommandError(f"--dataset: no dataset {spec!r}")
    if len(found) > 1 and not version:
        raise CommandError(f"--dataset: {name!r} has several versions; write NAME:VERSION")
    return found[0]
