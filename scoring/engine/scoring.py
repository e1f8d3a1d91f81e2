"""Scoring one shard of items: read its inputs, run the model in batches, check the scores."""

import io
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from PIL import Image

from scoring.engine.architectures import Architecture, load_architecture
from scoring.engine.weights import load_weights

ITEM_ID = "item_id"
SCORE_OUT_OF_RANGE = "item {item} got score {score!r}, outside [0, 1]"
SCORE_NAN = "item {item} got no score (NaN)"
MISSING_FEATURES = "item {item} has no row in the feature file {path}"
IMAGE_TOO_LARGE = "item {item}: the image has {pixels} pixels, above the limit of {limit}"
IMAGE_UNREADABLE = "item {item}: the image cannot be decoded ({reason})"


class ScoreError(ValueError):
    """A shard that cannot be scored; the message names the item."""


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to rebuild the model: architecture name, its config, and the weights."""

    architecture: str
    config: dict
    weights: bytes = field(repr=False)
    weights_sha256: str = ""


@dataclass(frozen=True)
class Shard:
    """A slice of the items to score.

    Tabular shards name a feature Parquet file and the item ids to take from it (sorted, so
    that Parquet's row-group statistics skip the rest of the file); image shards list files.
    """

    item_ids: np.ndarray
    feature_path: str = ""
    image_paths: tuple[str, ...] = ()


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@lru_cache(maxsize=4)
def _model(architecture: str, config_json: str, weights_sha256: str, weights: bytes) -> Architecture:
    """Rebuild and load a model once per process (a worker scores many shards of the same model)."""
    import json

    built = load_architecture(architecture, json.loads(config_json))
    load_weights(weights, built.module, name=f"weights {weights_sha256[:12]}", architecture=architecture)
    built.module.to(device())
    return built


def build_model(spec: ModelSpec) -> Architecture:
    import json

    return _model(spec.architecture, json.dumps(spec.config, sort_keys=True), spec.weights_sha256, spec.weights)


def score_shard(
    shard: Shard, spec: ModelSpec, *, batch_size: int = 4096, max_image_pixels: int = 25_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, scores) for one shard; raises ScoreError naming the first bad item."""
    model = build_model(spec)
    if model.input_kind == "tabular":
        ids, inputs = _tabular_inputs(shard, model.feature_columns)
        scores = _forward(model.module, inputs, batch_size)
    else:
        ids = np.asarray(shard.item_ids, dtype=np.int64)
        scores = np.empty(len(ids), dtype=np.float64)
        for start in range(0, len(ids), batch_size):
            stop = start + batch_size
            images = _decode_images(ids[start:stop], shard.image_paths[start:stop], model.image_size, max_image_pixels)
            scores[start:stop] = _forward(model.module, images, batch_size)
    check_scores(ids, scores)
    return ids, scores


def _tabular_inputs(shard: Shard, columns: list[str]) -> tuple[np.ndarray, torch.Tensor]:
    wanted = np.asarray(shard.item_ids, dtype=np.int64)
    if len(wanted) == 0:
        return wanted, torch.empty((0, len(columns)))
    lo, hi = int(wanted.min()), int(wanted.max())
    table = pq.read_table(
        shard.feature_path, columns=[ITEM_ID, *columns], filters=[(ITEM_ID, ">=", lo), (ITEM_ID, "<=", hi)]
    )
    table = table.filter(pc.is_in(table[ITEM_ID], value_set=pa.array(wanted)))
    ids = table[ITEM_ID].to_numpy()
    if len(ids) != len(wanted):
        missing = np.setdiff1d(wanted, ids)[0]
        raise ScoreError(MISSING_FEATURES.format(item=int(missing), path=shard.feature_path))
    matrix = np.empty((len(ids), len(columns)), dtype=np.float32)
    for index, name in enumerate(columns):
        matrix[:, index] = table[name].to_numpy()
    return ids, torch.from_numpy(matrix)


def _forward(module: torch.nn.Module, inputs: torch.Tensor, batch_size: int) -> np.ndarray:
    target = device()
    out = np.empty(len(inputs), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            batch = inputs[start : start + batch_size].to(target, non_blocking=True)
            out[start : start + len(batch)] = module(batch).reshape(-1).double().cpu().numpy()
    return out


def _decode_images(ids, paths, size: tuple[int, int], max_pixels: int) -> torch.Tensor:
    height, width = size
    batch = np.empty((len(paths), height, width, 3), dtype=np.uint8)
    for index, (item, path) in enumerate(zip(ids, paths, strict=True)):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            with Image.open(io.BytesIO(data)) as image:
                pixels = image.size[0] * image.size[1]
                if pixels > max_pixels:
                    raise ScoreError(IMAGE_TOO_LARGE.format(item=int(item), pixels=pixels, limit=max_pixels))
                rgb = image.convert("RGB")
                if rgb.size != (width, height):
                    rgb = rgb.resize((width, height), Image.Resampling.BILINEAR)
                batch[index] = np.asarray(rgb)
        except ScoreError:
            raise
        except Exception as exc:  # Pillow raises many types for corrupt input; name the item
            raise ScoreError(IMAGE_UNREADABLE.format(item=int(item), reason=exc)) from None
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)


def check_scores(ids: np.ndarray, scores: np.ndarray) -> None:
    bad = np.isnan(scores) | (scores < 0) | (scores > 1)
    if bad.any():
        index = int(np.argmax(bad))
        item, score = int(ids[index]), float(scores[index])
        if np.isnan(score):
            raise ScoreError(SCORE_NAN.format(item=item))
        raise ScoreError(SCORE_OUT_OF_RANGE.format(item=item, score=score))
