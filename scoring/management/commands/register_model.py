import json
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from consent.errors import RuleViolation
from core.cli import actor_from_options, add_actor_argument
from scoring import services
from scoring.engine import available_architectures


class Command(BaseCommand):
    help = (
        "Register a model version: an architecture with safetensors weights (--weights), or a CSV/Parquet file of "
        "precomputed scores with columns item, score (--scores). Pickled weights (.pt, .pth, .pkl, .pt2, TorchScript) "
        "are refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--model-version", dest="model_version", required=True)
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--weights", type=Path, help="a .safetensors file")
        source.add_argument("--scores", type=Path, help="a .csv or .parquet of item, score")
        parser.add_argument("--architecture", help=f"one of: {', '.join(sorted(available_architectures()))}")
        parser.add_argument("--config", default="{}", help="the architecture's configuration as JSON")
        parser.add_argument("--description", default="")
        add_actor_argument(parser)

    def handle(self, *args, **options):
        actor = actor_from_options(options)
        try:
            if options["weights"]:
                if not options["architecture"]:
                    raise CommandError("--weights needs --architecture")
                model = services.register_model_version(
                    actor=actor, name=options["name"], version=options["model_version"],
                    architecture=options["architecture"], config=json.loads(options["config"]),
                    weights=options["weights"].read_bytes(), weights_name=options["weights"].name,
                    description=options["description"],
                )  # fmt: skip
            else:
                path = options["scores"]
                frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={"item": str})
                model = services.register_precomputed_scores(
                    actor=actor, name=options["name"], version=options["model_version"], scores=frame,
                    description=options["description"],
                )  # fmt: skip
        except RuleViolation as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Registered {model} ({model.get_kind_display()}), sha256 {model.artifact_sha256}")
