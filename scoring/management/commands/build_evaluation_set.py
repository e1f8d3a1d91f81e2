import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from consent.errors import RuleViolation
from consent.management.commands.import_items import _dataset
from core.cli import actor_from_options, add_actor_argument
from scoring import services
from scoring.engine.sampling import Allocation


class Command(BaseCommand):
    help = (
        "Draw a stratified evaluation set from the eligible items of a dataset (consent for evaluation active at "
        "the snapshot, allowed copyright status) and optionally freeze it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--dataset", required=True, help="NAME or NAME:VERSION")
        parser.add_argument(
            "--stratify", action="append", required=True, help="an attribute or attribute:banding; repeat for several"
        )
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--per-stratum", type=int, help="the same target count for every stratum")
        group.add_argument("--targets", help='JSON object of targets by stratum label, e.g. {"dark | female": 50}')
        group.add_argument("--total", type=int, help="proportional allocation of this many items")
        parser.add_argument("--minimum", type=int, default=0, help="with --total: at least this many per stratum")
        parser.add_argument("--kind", choices=["tabular", "image"], help="only items of this kind")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--snapshot", type=datetime.fromisoformat, help="consent as of this time (default: now)")
        parser.add_argument("--allow-copyright", action="append", default=[],
                            help="admit a copyright status excluded by default (disputed)")  # fmt: skip
        parser.add_argument("--freeze", action="store_true")
        add_actor_argument(parser)

    def handle(self, *args, **options):
        dataset = _dataset(options["dataset"])
        try:
            allocation = self._allocation(options)
            excluded = tuple(s for s in ("disputed",) if s not in options["allow_copyright"])
            actor = actor_from_options(options)
            evaluation_set = services.build_evaluation_set(
                actor=actor, name=options["name"], dataset=dataset, strata=options["stratify"],
                allocation=allocation, seed=options["seed"], snapshot_at=options["snapshot"],
                excluded_copyright=excluded, item_kind=options["kind"] or "",
            )  # fmt: skip
            if options["freeze"]:
                evaluation_set = services.freeze_evaluation_set(actor=actor, evaluation_set=evaluation_set)
        except (RuleViolation, ValueError) as exc:
            raise CommandError(str(exc)) from None
        report = evaluation_set.report
        self.stdout.write(
            f"Evaluation set {evaluation_set.name!r}: {report['drawn']} drawn of {report['eligible']} eligible "
            f"({report['available']} items in {dataset})"
        )
        for reason, count in report["excluded"].items():
            self.stdout.write(f"  excluded, {reason}: {count}")
        width = max((len(s["stratum"]) for s in report["strata"]), default=10)
        self.stdout.write(f"  {'stratum':<{width}}  available  eligible  drawn")
        for stratum in report["strata"]:
            label, available, eligible = stratum["stratum"], stratum["available"], stratum["eligible"]
            self.stdout.write(f"  {label:<{width}}  {available:>9}  {eligible:>8}  {stratum['drawn']:>5}")
        if evaluation_set.is_frozen:
            self.stdout.write(f"Frozen; manifest sha256 {evaluation_set.manifest_sha256}")

    @staticmethod
    def _allocation(options) -> Allocation:
        if options["total"] is not None:
            return Allocation(total=options["total"], minimum=options["minimum"])
        if options["targets"]:
            return Allocation(targets={str(k): int(v) for k, v in json.loads(options["targets"]).items()})
        return Allocation(per_stratum=options["per_stratum"])
