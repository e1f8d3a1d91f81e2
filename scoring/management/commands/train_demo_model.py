import time

from django.core.management.base import BaseCommand, CommandError

from consent.errors import RuleViolation
from consent.models import Dataset
from core.cli import actor_from_options, add_actor_argument
from scoring import demo_model


class Command(BaseCommand):
    help = "Train the shipped MLP and CNN on the demo population (seconds) and register them as model versions."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--steps", type=int, default=400)
        add_actor_argument(parser)

    def handle(self, *args, **options):
        if not Dataset.objects.filter(name=demo_model.DEMO_DATASET).exists():
            raise CommandError("no demo dataset: run `manage.py seed_demo` first")
        started = time.perf_counter()
        try:
            models = demo_model.train(actor=actor_from_options(options), seed=options["seed"], steps=options["steps"])
        except RuleViolation as exc:
            raise CommandError(str(exc)) from None
        for model in models:
            self.stdout.write(
                f"Registered {model} ({model.architecture}, weights sha256 {model.artifact_sha256[:12]}…)"
            )
        self.stdout.write(f"Trained in {time.perf_counter() - started:.1f} s")
