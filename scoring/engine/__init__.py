"""Batch scoring with PyTorch, free of Django: arrays, frames and files in, per-item scores out.

It runs in the web process, in a background task, in a Dask worker and in a notebook alike.
"""

from scoring.engine.architectures import Architecture, available_architectures, load_architecture
from scoring.engine.scoring import ScoreError, Shard, score_shard
from scoring.engine.weights import WeightsError, load_weights, read_safetensors_header

__all__ = [
    "Architecture",
    "ScoreError",
    "Shard",
    "WeightsError",
    "available_architectures",
    "load_architecture",
    "load_weights",
    "read_safetensors_header",
    "score_shard",
]
