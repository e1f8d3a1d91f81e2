"""Running shards through Dask: the local threaded scheduler, or a `distributed` cluster.

The same tasks run either way; only where they run changes. Workers import this package and
run `score_shard` on their shard, which uses only the engine (no Django, no database).
"""

import os
from collections.abc import Callable, Sequence

import dask
import numpy as np
import torch
from dask.callbacks import Callback

from scoring.engine.scoring import ModelSpec, Shard, score_shard

ProgressCallback = Callable[[int, int], None]


class _LocalProgress(Callback):
    """Counts finished shard tasks on the local scheduler and reports them."""

    def __init__(self, total: int, on_progress: ProgressCallback):
        super().__init__()
        self.total, self.done, self.on_progress = total, 0, on_progress

    def _posttask(self, key, result, dsk, state, worker_id):
        name = key[0] if isinstance(key, tuple) else key
        if str(name).startswith("score_shard"):
            self.done += 1
            self.on_progress(self.done, self.total)


def score_shards(
    shards: Sequence[Shard],
    spec: ModelSpec,
    *,
    scheduler_address: str | None = None,
    batch_size: int = 4096,
    max_image_pixels: int = 25_000_000,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score every shard and return (item ids, scores) in shard order."""
    on_progress = on_progress or (lambda done, total: None)
    if scheduler_address:
        results = _on_cluster(shards, spec, scheduler_address, batch_size, max_image_pixels, on_progress)
    else:
        tasks = [
            dask.delayed(score_shard, pure=False)(
                shard,
                spec,
                batch_size=batch_size,
                max_image_pixels=max_image_pixels,
                dask_key_name=f"score_shard-{index}",
            )  # fmt: skip
            for index, shard in enumerate(shards)
        ]
        workers = workers or os.cpu_count() or 1
        # Parallelism comes from running shards side by side; each keeps torch to its share of the
        # cores, since small models slow down when every thread also spreads each batch over all cores.
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
        try:
            with _LocalProgress(len(tasks), on_progress):
                results = dask.compute(*tasks, scheduler="threads", num_workers=workers)
        finally:
            torch.set_num_threads(threads)
    if not results:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    return np.concatenate([ids for ids, _ in results]), np.concatenate([scores for _, scores in results])


def _on_cluster(shards, spec, address, batch_size, max_image_pixels, on_progress):
    from distributed import Client, as_completed

    with Client(address) as client:
        spec_future = client.scatter(spec, broadcast=True)
        futures = [
            client.submit(
                score_shard, shard, spec_future, batch_size=batch_size, max_image_pixels=max_image_pixels, pure=False
            )
            for shard in shards
        ]
        for done, _ in enumerate(as_completed(futures), start=1):
            on_progress(done, len(futures))
        return client.gather(futures)
