"""Scoring one shard of items: read its inputs, run the model in batches, check the scores."""

import io
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pyarrow as pa
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
    """The shard's rows of the feature file, as a float32 matrix in the order of `shard.item_ids`.

    Only the row groups whose item-id range overlaps the shard's are read (their statistics say
    which), and rows are found by binary search: feature files are written in item-id order.
    """
    wanted = np.sort(np.asarray(shard.item_ids, dtype=np.int64))
    if len(wanted) == 0:
        return wanted, torch.empty((0, len(columns)))
    table = _row_groups_between(shard.feature_path, [ITEM_ID, *columns], int(wanted[0]), int(wanted[-1]))
    present = table.column(ITEM_ID).to_numpy()
    if len(present) > 1 and not (np.diff(present) > 0).all():  # not in id order: sort it first
        order = np.argsort(present, kind="stable")
        table, present = table.take(order), present[order]
    rows = _positions(present, wanted)
    if isinstance(rows, np.ndarray) and (len(rows) != len(wanted) or (present[rows] != wanted).any()):
        ok = rows < len(present)
        ok[ok] = present[rows[ok]] == wanted[ok]
        raise ScoreError(MISSING_FEATURES.format(item=int(wanted[~ok][0]), path=shard.feature_path))
    matrix = np.empty((len(wanted), len(columns)), dtype=np.float32)
    for index, name in enumerate(columns):
        matrix[:, index] = table.column(name).to_numpy()[rows]
    return wanted, torch.from_numpy(matrix)


def _positions(present: np.ndarray, wanted: np.ndarray) -> slice | np.ndarray:
    """Where the wanted ids sit among the present ones (both sorted, ids unique).

    A shard is usually a run of consecutive ids stored consecutively: then it is one slice,
    found with one binary search instead of one per item.
    """
    first = int(np.searchsorted(present, wanted[0]))
    last = first + len(wanted) - 1
    consecutive = int(wanted[-1]) - int(wanted[0]) + 1 == len(wanted)
    if consecutive and last < len(present) and present[first] == wanted[0] and present[last] == wanted[-1]:
        return slice(first, last + 1)  # strictly increasing integers with equal ends: exactly these ids
    return np.minimum(np.searchsorted(present, wanted), max(len(present) - 1, 0))


def _row_groups_between(path: str, columns: list[str], lo: int, hi: int) -> pa.Table:
    parquet = pq.ParquetFile(path)
    metadata = parquet.metadata
    id_index = parquet.schema_arrow.get_field_index(ITEM_ID)
    groups = []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(id_index).statistics
        if stats is None or not stats.has_min_max or (stats.max >= lo and stats.min <= hi):
            groups.append(group)
    return parquet.read_row_groups(groups, columns=columns)


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
