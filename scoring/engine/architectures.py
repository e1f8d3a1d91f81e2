"""Model architectures: trusted code that turns a batch of inputs into scores in [0, 1].

Weights are data (safetensors); the architecture is code, and only code the operator trusts
runs: the two shipped here, or ones installed as Python packages that declare an entry point
in the group ``bias_audit.architectures``. The entry point names a callable::

    def factory(config: dict) -> Architecture

where ``config`` is the JSON object stored with the model version (for example the number of
features), and the returned ``Architecture`` says what input it takes and holds the module:

- ``input_kind``: ``"tabular"`` (a float32 tensor of shape ``(batch, len(feature_columns))``, the
  columns in ``feature_columns`` order) or ``"image"`` (a float32 tensor ``(batch, 3, H, W)`` with
  ``image_size = (H, W)``, RGB scaled to [0, 1] after resizing);
- ``module``: a ``torch.nn.Module`` whose forward returns one score in [0, 1] per row, shape
  ``(batch,)`` or ``(batch, 1)``. Scores outside [0, 1] or NaN fail the shard, naming the item.
"""

from dataclasses import dataclass, field
from importlib.metadata import entry_points

import torch
from torch import nn

ENTRY_POINT_GROUP = "bias_audit.architectures"
UNKNOWN_ARCHITECTURE = "unknown architecture {name!r}; available: {available}"


@dataclass
class Architecture:
    name: str
    input_kind: str
    module: nn.Module
    feature_columns: list[str] = field(default_factory=list)
    image_size: tuple[int, int] = (64, 64)


class TabularMLP(nn.Module):
    """A small multilayer perceptron over standardised tabular features."""

    def __init__(self, n_features: int, hidden: int = 32):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.layers = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layers((x - self.mean) / self.scale)).squeeze(-1)


class ImageCNN(nn.Module):
    """A small convolutional network for RGB images (64x64 by default)."""

    def __init__(self, channels: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, channels * 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels * 2, channels * 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )  # fmt: skip
        self.head = nn.Linear(channels * 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.features(x).flatten(1))).squeeze(-1)


def tabular_mlp(config: dict) -> Architecture:
    columns = list(config["feature_columns"])
    return Architecture(
        name="tabular-mlp",
        input_kind="tabular",
        module=TabularMLP(len(columns), int(config.get("hidden", 32))),
        feature_columns=columns,
    )


def image_cnn(config: dict) -> Architecture:
    size = tuple(config.get("image_size", (64, 64)))
    return Architecture(
        name="image-cnn", input_kind="image", module=ImageCNN(int(config.get("channels", 16))), image_size=size
    )


SHIPPED = {"tabular-mlp": tabular_mlp, "image-cnn": image_cnn}


def available_architectures() -> dict:
    """Shipped architectures plus those installed under the entry-point group (shipped names win)."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **SHIPPED}


def load_architecture(name: str, config: dict) -> Architecture:
    factories = available_architectures()
    if name not in factories:
        raise ValueError(UNKNOWN_ARCHITECTURE.format(name=name, available=", ".join(sorted(factories))))
    factory = factories[name]
    if hasattr(factory, "load"):  # an entry point: import the operator's package now
        factory = factory.load()
    architecture = factory(config)
    if architecture.input_kind not in ("tabular", "image"):
        raise ValueError(f"architecture {name!r} declares input kind {architecture.input_kind!r}")
    architecture.module.eval()
    return architecture
