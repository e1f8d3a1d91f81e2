"""Benchmark: scoring images with the demo CNN at 64x64, decoding included, against the bare forward.

Issue 3 asks for the figure (no target): images per second through the scoring engine (read
PNG files, decode with the pixel limit, resize, batch, forward, collect, through Dask shards)
next to the bare forward of the same model on the same, already decoded, tensors.

Usage: python bench/scoring_images.py [--images N] [--repeat K] [--batch-size B]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from scoring.engine.architectures import load_architecture  # noqa: E402
from scoring.engine.distribute import score_shards  # noqa: E402
from scoring.engine.scoring import ModelSpec, Shard, _decode_images, build_model  # noqa: E402
from scoring.engine.weights import state_bytes  # noqa: E402

CONFIG = {"image_size": [64, 64], "channels": 16}


def write_images(folder: Path, n: int) -> list[str]:
    rng = np.random.default_rng(2)
    paths = []
    for index in range(n):
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        path = folder / f"{index}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--shard-size", type=int, default=1024)
    args = parser.parse_args()
    torch.manual_seed(0)
    built = load_architecture("image-cnn", CONFIG)
    spec = ModelSpec("image-cnn", CONFIG, state_bytes(built.module), "bench-cnn")
    module = build_model(spec).module
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        paths = write_images(Path(tmp), args.images)
        ids = np.arange(1, args.images + 1)
        shards = [
            Shard(item_ids=ids[s : s + args.shard_size], image_paths=tuple(paths[s : s + args.shard_size]))
            for s in range(0, args.images, args.shard_size)
        ]
        decoded = _decode_images(ids, paths, (64, 64), 25_000_000)
        engine, bare = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            score_shards(shards, spec, batch_size=args.batch_size)
            engine.append(time.perf_counter() - start)
            start = time.perf_counter()
            with torch.inference_mode():
                for s in range(0, args.images, args.batch_size):
                    module(decoded[s : s + args.batch_size])
            bare.append(time.perf_counter() - start)
    engine_rate = args.images / statistics.median(engine)
    bare_rate = args.images / statistics.median(bare)
    print(f"demo CNN, {args.images:,} PNG images of 64x64, batch {args.batch_size}")
    note = f"images/s (median of {args.repeat})"
    print(f"scoring stage (read, decode, batch, forward, collect): {engine_rate:>9,.0f} {note}")
    print(f"bare forward on decoded tensors:                       {bare_rate:>9,.0f} {note}")
    print(f"  ratio {engine_rate / bare_rate:.2f} (reported; the issue sets no target for images)")


if __name__ == "__main__":
    main()
