from importlib.metadata import EntryPoint

import numpy as np
import pytest
import torch

from scoring.engine import architectures
from scoring.engine.architectures import Architecture, available_architectures, load_architecture
from scoring.engine.scoring import ModelSpec, ScoreError, Shard, score_shard
from scoring.engine.weights import state_bytes


class Doubler(torch.nn.Module):
    """A deliberately broken model: its scores leave [0, 1]."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.full((1,), 2.0))

    def forward(self, x):
        return x.mean(dim=(1, 2, 3)) * self.weight + 1


def operator_factory(config: dict) -> Architecture:
    return Architecture(name="operator-model", input_kind="image", module=Doubler(), image_size=(8, 8))


@pytest.fixture
def installed(monkeypatch):
    entry = EntryPoint(
        name="operator-model", value=f"{__name__}:operator_factory", group=architectures.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(architectures, "entry_points", lambda group: [entry] if group == entry.group else [])


def test_an_operator_architecture_is_found_through_its_entry_point(installed):
    assert {"tabular-mlp", "image-cnn", "operator-model"} <= set(available_architectures())
    built = load_architecture("operator-model", {})
    assert built.input_kind == "image" and isinstance(built.module, Doubler)


def test_scores_outside_the_range_fail_the_shard_naming_the_item(installed, tmp_path):
    from PIL import Image

    path = tmp_path / "face.png"
    Image.new("RGB", (8, 8), (255, 255, 255)).save(path)
    spec = ModelSpec("operator-model", {}, state_bytes(Doubler()), "doubler")
    with pytest.raises(ScoreError, match=r"item 41 got score 3\.0, outside \[0, 1\]"):
        score_shard(Shard(item_ids=np.array([41]), image_paths=(str(path),)), spec)


def test_an_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="unknown architecture 'resnet-9000'; available: image-cnn, tabular-mlp"):
        load_architecture("resnet-9000", {})
