"""Train the shipped architectures on the demo population, with a deliberate, documented gap.

The demo's "ground truth" score is a smooth function of the features, lowered by 0.12 for
people in the darkest skin-tone band (Monk 8-10). The tabular model never sees skin tone but
learns the gap through `feature_region`, a proxy of it; the image model sees the face and
learns it directly. So the demo audit shows what a failing audit looks like: a model that
scores one group lower, found by measuring, not by reading its inputs.
"""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
from django.conf import settings
from PIL import Image

from consent.demo import DEMO_DATASET, FEATURES, PROXY_FEATURE
from consent.features import absolute_path
from consent.models import Dataset, FeatureFile
from core.audit_log import Actor
from scoring import services
from scoring.engine.architectures import load_architecture
from scoring.engine.weights import state_bytes

DARK_BAND_GAP = 0.12
MODEL_VERSION = "2026.4"


def _target(frame: pd.DataFrame, dark: np.ndarray) -> np.ndarray:
    legitimate = frame.drop(columns=[PROXY_FEATURE])
    standardised = (legitimate - legitimate.mean()) / legitimate.std().replace(0, 1)
    base = 1 / (1 + np.exp(-standardised.mean(axis=1).to_numpy() * 1.5))
    return np.clip(base - DARK_BAND_GAP * dark, 0.01, 0.99)


def _is_dark(attributes: pd.Series) -> np.ndarray:
    return attributes.map(lambda a: int(a.get("skin_tone", "0")) >= 8).to_numpy(dtype=np.float64)


def _fit(
    module: torch.nn.Module, inputs: torch.Tensor, target: torch.Tensor, *, steps: int, seed: int, batch: int = 512
) -> float:
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(module.parameters(), lr=0.01)
    module.train()
    loss = torch.tensor(0.0)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = torch.randint(0, len(inputs), (min(batch, len(inputs)),), generator=generator)
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(module(inputs[rows]), target[rows])
        loss.backward()
        optimiser.step()
    module.eval()
    return float(loss.detach())


def train(*, actor: Actor, dataset: Dataset | None = None, seed: int = 7, steps: int = 400) -> list:
    dataset = dataset or Dataset.objects.get(name=DEMO_DATASET)
    torch.manual_seed(seed)
    registered = []

    tabular = dataset.items.filter(kind="tabular", erased_at__isnull=True)
    items = pd.DataFrame(list(tabular.values_list("pk", "attributes")), columns=["item_id", "attributes"])
    tables = [pq.read_table(absolute_path(f)).to_pandas() for f in FeatureFile.objects.filter(dataset=dataset)]
    features = pd.concat(tables).set_index("item_id").loc[items["item_id"], FEATURES]
    target = _target(features, _is_dark(items["attributes"]))
    mlp = load_architecture("tabular-mlp", {"feature_columns": FEATURES, "hidden": 64})
    inputs = torch.tensor(features.to_numpy(dtype=np.float32))
    mlp.module.mean.copy_(inputs.mean(0))
    mlp.module.scale.copy_(inputs.std(0).clamp_min(1e-6))
    _fit(mlp.module, inputs, torch.tensor(target, dtype=torch.float32), steps=steps * 3, seed=seed)
    registered.append(
        services.register_model_version(
            actor=actor,
            name="demo-tabular-mlp",
            version=MODEL_VERSION,
            architecture="tabular-mlp",
            config={"feature_columns": FEATURES, "hidden": 64},
            weights=state_bytes(mlp.module),
            description=f"Demo MLP trained by train_demo_model; learned a {DARK_BAND_GAP} lower score for "
            "skin tones 8-10 through the proxy feature feature_region.",
        )  # fmt: skip
    )

    images = pd.DataFrame(
        list(dataset.items.filter(kind="image", erased_at__isnull=True).values_list("image", "attributes")),
        columns=["image", "attributes"],
    )
    if len(images):
        cnn = load_architecture("image-cnn", {"image_size": [64, 64], "channels": 16})
        pixels = np.stack(
            [
                np.asarray(Image.open(settings.MEDIA_ROOT / name).convert("RGB").resize((64, 64)))
                for name in images["image"]
            ]
        )
        inputs = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0
        target = np.clip(0.55 - DARK_BAND_GAP * _is_dark(images["attributes"]), 0.01, 0.99)
        _fit(
            cnn.module,
            inputs,
            torch.tensor(target, dtype=torch.float32),
            steps=max(steps // 4, 40),
            seed=seed,
            batch=64,
        )
        registered.append(
            services.register_model_version(
                actor=actor,
                name="demo-image-cnn",
                version=MODEL_VERSION,
                architecture="image-cnn",
                config={"image_size": [64, 64], "channels": 16},
                weights=state_bytes(cnn.module),
                description=f"Demo CNN trained by train_demo_model on the generated faces; scores skin tones 8-10 "
                f"about {DARK_BAND_GAP} lower.",
            )  # fmt: skip
        )
    return registered
