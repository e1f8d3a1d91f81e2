from django.core.management.base import BaseCommand, CommandError

from audit import services
from audit.fairness import GAP_METRICS, AuditInputError
from audit.fairness.spec import FOUR_FIFTHS
from core.cli import actor_from_options, add_actor_argument
from scoring.models import EvaluationSet


def attribute_entry(text: str) -> dict:
    """ATTRIBUTE[:BANDING][=REFERENCE], e.g. skin_tone:monk_3 or sex=female."""
    name, _, reference = text.partition("=")
    attribute, _, banding = name.partition(":")
    return {"attribute": attribute.strip(), "banding": banding.strip() or None, "reference": reference.strip() or None}


class Command(BaseCommand):
    help = "Define a new version of an audit policy: attributes, metrics, threshold, bootstrap settings."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--attribute", action="append", required=True, metavar="ATTRIBUTE[:BANDING][=REFERENCE]",
            help="repeat for each attribute; intersections of all of them are audited too",
        )  # fmt: skip
        parser.add_argument(
            "--metric", action="append", choices=sorted(GAP_METRICS), help="gap or ratio judged (repeatable)"
        )
        parser.add_argument("--threshold", type=float, default=0.05, help="for differences, on the 0-1 scale")
        parser.add_argument(
            "--ratio-threshold", type=float, default=FOUR_FIFTHS,
            help="for ratios (lowest group over highest); 0.8 is the four-fifths rule",
        )  # fmt: skip
        parser.add_argument("--confidence", type=float, default=0.95)
        parser.add_argument("--bootstrap", type=int, default=1000, help="replicates")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--min-group-size", type=int, default=30)
        parser.add_argument("--decision-threshold", type=float, default=0.5)
        parser.add_argument("--no-intersections", action="store_true")
        parser.add_argument("--description", default="")
        parser.add_argument("--check-against", metavar="EVALUATION_SET", help="check the attributes against its schema")
        add_actor_argument(parser)

    def handle(self, *args, **options):
        evaluation_set = None
        if options["check_against"]:
            evaluation_set = EvaluationSet.objects.filter(name=options["check_against"]).first()
            if evaluation_set is None:
                raise CommandError(f"no evaluation set {options['check_against']!r}")
        try:
            policy = services.define_policy(
                actor=actor_from_options(options), name=options["name"],
                attributes=[attribute_entry(a) for a in options["attribute"]], metrics=options["metric"],
                threshold=options["threshold"], ratio_threshold=options["ratio_threshold"],
                confidence=options["confidence"], replicates=options["bootstrap"],
                seed=options["seed"], min_group_size=options["min_group_size"],
                decision_threshold=options["decision_threshold"], intersections=not options["no_intersections"],
                description=options["description"], evaluation_set=evaluation_set,
            )  # fmt: skip
        except AuditInputError as exc:
            raise CommandError("\n".join(f"{field}: {message}" for field, message in exc.problems)) from None
        except PermissionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Defined policy {policy} (threshold {policy.threshold}, ratio threshold {policy.ratio_threshold}, "
            f"{policy.replicates} replicates)"
        )
