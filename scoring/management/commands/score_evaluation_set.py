import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from consent.errors import RuleViolation
from core.cli import actor_from_options, add_actor_argument
from scoring import services
from scoring.models import EvaluationSet, ModelVersion


class Command(BaseCommand):
    help = "Score a frozen evaluation set with a model version, in shards (Dask), and keep the scores as Parquet."

    def add_arguments(self, parser):
        parser.add_argument("--evaluation-set", required=True)
        parser.add_argument("--model", required=True, help="NAME:VERSION")
        parser.add_argument("--shard-size", type=int, default=services.SHARD_SIZE)
        parser.add_argument("--batch-size", type=int, default=4096)
        add_actor_argument(parser)

    def handle(self, *args, **options):
        try:
            evaluation_set = EvaluationSet.objects.get(name=options["evaluation_set"])
        except EvaluationSet.DoesNotExist:
            raise CommandError(f"no evaluation set {options['evaluation_set']!r}") from None
        name, _, version = options["model"].partition(":")
        model = ModelVersion.objects.filter(name=name, version=version).first()
        if model is None:
            raise CommandError(f"no model version {options['model']!r} (write NAME:VERSION)")
        started = time.perf_counter()
        with tqdm(total=0, unit="shard", desc="scoring", file=self.stderr._out, disable=None) as bar:

            def progress(done, total):
                bar.total = total
                bar.update(done - bar.n)

            try:
                artifact = services.score_evaluation_set(
                    actor=actor_from_options(options), evaluation_set=evaluation_set, model=model,
                    on_progress=progress, shard_size=options["shard_size"], batch_size=options["batch_size"],
                )  # fmt: skip
            except RuleViolation as exc:
                raise CommandError(str(exc)) from None
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Scored {artifact.scored} items of {evaluation_set} with {model} on {artifact.device} in {elapsed:.1f} s; "
            f"scores at {artifact.path} (sha256 {artifact.sha256[:12]}…)"
        )
        for reason, count in artifact.excluded.items():
            self.stdout.write(f"  excluded, {reason}: {count}")
