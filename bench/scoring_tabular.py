"""Benchmark: scoring 1,000,000 tabular items with the demo MLP through the scoring engine.

Target (issue 3): the scoring stage (read features from Parquet, batch, forward, collect,
through Dask shards) reaches at least 50% of the bare torch forward throughput on the same
model, tensors and batch size, measured in the same run; and its peak memory stays under
2 GB. Each measurement runs in its own process so that its peak memory is its own.

Usage: python bench/scoring_tabular.py [--items N] [--repeat K] [--batch-size B] [--shard-size S]
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FEATURES = [f"feature_{i}" for i in range(8)]
MIN_RATIO = 0.5
MAX_PEAK_BYTES = 2 * 1024**3


def write_features(path: Path, n: int) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))).astype(np.float64), columns=FEATURES)
    frame.insert(0, "item_id", np.arange(1, n + 1, dtype=np.int64))
    frame.to_parquet(path, row_group_size=65_536, compression="zstd")


def model_spec(hidden: int = 64):
    import torch

    from scoring.engine.architectures import load_architecture
    from scoring.engine.scoring import ModelSpec
    from scoring.engine.weights import state_bytes

    torch.manual_seed(0)
    config = {"feature_columns": FEATURES, "hidden": hidden}
    built = load_architecture("tabular-mlp", config)
    return ModelSpec("tabular-mlp", config, state_bytes(built.module), f"bench-{hidden}")


def child(mode: str, path: str, n: int, batch_size: int, shard_size: int, hidden: int) -> dict:
    import torch

    from scoring.engine.distribute import score_shards
    from scoring.engine.scoring import Shard, build_model

    spec = model_spec(hidden)
    # Loading the model and the first call's set-up are once-per-worker costs, not the stage's:
    # both measurements start warm.
    module = build_model(spec).module
    if mode == "engine":
        ids = np.arange(1, n + 1, dtype=np.int64)
        shards = [Shard(item_ids=ids[s : s + shard_size], feature_path=path) for s in range(0, n, shard_size)]
        score_shards(shards[:2], spec, batch_size=batch_size)
        start = time.perf_counter()
        out_ids, scores = score_shards(shards, spec, batch_size=batch_size)
        elapsed = time.perf_counter() - start
        assert len(out_ids) == n and np.isfinite(scores).all()
    else:
        table = pd.read_parquet(path, columns=FEATURES)
        inputs = torch.from_numpy(table.to_numpy(dtype=np.float32))
        del table
        with torch.inference_mode():
            for s in range(0, 2 * shard_size, batch_size):
                module(inputs[s : s + batch_size])
        start = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, n, batch_size):
                module(inputs[s : s + batch_size])
        elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": elapsed, "peak_bytes": peak}


def run_child(mode, path, n, batch_size, shard_size, hidden) -> dict:
    root = str(Path(__file__).resolve().parent.parent)
    arguments = (mode, str(path), n, batch_size, shard_size, hidden)
    code = (
        f"import json, sys; sys.path.insert(0, {root!r}); from bench.scoring_tabular import child; "
        f"print(json.dumps(child(*{arguments!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--shard-size", type=int, default=4096 * 25)
    parser.add_argument("--hidden", type=int, default=64, help="hidden units of the MLP (the demo model has 64)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        path = Path(tmp) / "features.parquet"
        write_features(path, args.items)
        print(f"input: {args.items:,} items x {len(FEATURES)} features")
        print(f"batch {args.batch_size}, shard {args.shard_size}")
        engine, bare = [], []
        for _ in range(args.repeat):
            engine.append(run_child("engine", path, args.items, args.batch_size, args.shard_size, args.hidden))
            bare.append(run_child("bare", path, args.items, args.batch_size, args.shard_size, args.hidden))
    engine_rate = args.items / statistics.median(r["seconds"] for r in engine)
    bare_rate = args.items / statistics.median(r["seconds"] for r in bare)
    ratio = engine_rate / bare_rate
    peak = max(r["peak_bytes"] for r in engine)
    rate_note = f"items/s (median of {args.repeat})"
    print(f"MLP with {args.hidden} hidden units; scoring stage = Parquet -> shards -> batches -> forward -> scores")
    print(f"scoring stage:                                {engine_rate:>12,.0f} {rate_note}")
    print(f"bare torch forward, same model/tensors/batch: {bare_rate:>12,.0f} {rate_note}")
    verdict = "meets" if ratio >= MIN_RATIO else "MISSES"
    print(f"  ratio {ratio:.2f} (target at least {MIN_RATIO:.2f}: {verdict} the target)")
    verdict = "meets" if peak < MAX_PEAK_BYTES else "MISSES"
    print(f"  peak memory of the scoring stage: {peak / 1024**2:,.0f} MiB (target under 2 GiB: {verdict} the target)")


if __name__ == "__main__":
    main()
