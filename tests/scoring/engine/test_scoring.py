import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from scoring.engine.architectures import load_architecture
from scoring.engine.distribute import score_shards
from scoring.engine.scoring import ModelSpec, ScoreError, Shard, check_scores, score_shard
from scoring.engine.weights import state_bytes

FEATURES = ["feature_a", "feature_b"]


def spec(kind="tabular", seed=0):
    torch.manual_seed(seed)
    if kind == "tabular":
        built = load_architecture("tabular-mlp", {"feature_columns": FEATURES})
        return ModelSpec("tabular-mlp", {"feature_columns": FEATURES}, state_bytes(built.module), f"mlp-{seed}")
    built = load_architecture("image-cnn", {"image_size": [32, 32], "channels": 4})
    return ModelSpec("image-cnn", {"image_size": [32, 32], "channels": 4}, state_bytes(built.module), f"cnn-{seed}")


@pytest.fixture
def features(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"item_id": np.arange(1, 1001), "feature_a": rng.normal(size=1000), "feature_b": rng.normal(size=1000)}
    )
    path = tmp_path / "features.parquet"
    frame.to_parquet(path, row_group_size=100)
    return path, frame


def test_it_scores_exactly_the_items_of_a_shard(features):
    path, frame = features
    wanted = np.array([5, 7, 250, 999])
    ids, scores = score_shard(Shard(item_ids=wanted, feature_path=str(path)), spec(), batch_size=3)
    assert ids.tolist() == wanted.tolist()
    model = load_architecture("tabular-mlp", {"feature_columns": FEATURES}).module
    torch.manual_seed(0)
    model = load_architecture("tabular-mlp", {"feature_columns": FEATURES}).module
    rows = torch.tensor(frame.set_index("item_id").loc[wanted, FEATURES].to_numpy(np.float32))
    with torch.inference_mode():
        expected = model(rows).double().numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_shards_aligned_to_batches_give_exactly_the_scores_of_one_shard(features):
    path, _ = features
    ids = np.arange(1, 1001)
    one = score_shards([Shard(item_ids=ids, feature_path=str(path))], spec(), batch_size=100)
    many = score_shards(
        [Shard(item_ids=chunk, feature_path=str(path)) for chunk in np.split(ids, 5)], spec(), batch_size=100
    )
    assert one[0].tolist() == many[0].tolist()
    np.testing.assert_array_equal(one[1], many[1])
    # Batches of other sizes may round the last bit differently (BLAS picks kernels by shape).
    uneven = score_shards(
        [Shard(item_ids=c, feature_path=str(path)) for c in np.array_split(ids, 7)], spec(), batch_size=100
    )
    np.testing.assert_allclose(uneven[1], one[1], rtol=1e-6)


def test_it_reports_progress(features):
    path, _ = features
    seen = []
    shards = [Shard(item_ids=chunk, feature_path=str(path)) for chunk in np.array_split(np.arange(1, 1001), 4)]
    score_shards(shards, spec(), on_progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4)


def test_it_names_an_item_missing_from_the_feature_file(features):
    path, _ = features
    with pytest.raises(ScoreError, match="item 5000 has no row"):
        score_shard(Shard(item_ids=np.array([1, 5000]), feature_path=str(path)), spec())


def test_scores_outside_the_range_or_nan_fail_naming_the_item():
    with pytest.raises(ScoreError, match=r"item 12 got score 1\.5, outside \[0, 1\]"):
        check_scores(np.array([11, 12]), np.array([0.5, 1.5]))
    with pytest.raises(ScoreError, match=r"item 11 got no score \(NaN\)"):
        check_scores(np.array([11, 12]), np.array([np.nan, 0.5]))


def test_it_scores_images_and_refuses_one_over_the_pixel_limit(tmp_path):
    paths = []
    for index, colour in enumerate([(10, 10, 10), (200, 150, 120), (90, 60, 40)]):
        path = tmp_path / f"{index}.png"
        Image.new("RGB", (40, 40), colour).save(path)
        paths.append(str(path))
    ids, scores = score_shard(
        Shard(item_ids=np.array([1, 2, 3]), image_paths=tuple(paths)), spec("image"), batch_size=2
    )
    assert ids.tolist() == [1, 2, 3] and len(set(scores.round(8))) == 3
    with pytest.raises(ScoreError, match="item 1: the image has 1600 pixels, above the limit of 1000"):
        score_shard(
            Shard(item_ids=np.array([1, 2]), image_paths=tuple(paths[:2])), spec("image"), max_image_pixels=1000
        )


def test_a_broken_image_fails_naming_the_item(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(ScoreError, match="item 8: the image cannot be decoded"):
        score_shard(Shard(item_ids=np.array([8]), image_paths=(str(path),)), spec("image"))


@pytest.mark.slow
def test_a_local_cluster_of_two_processes_gives_the_same_scores(features):
    distributed = pytest.importorskip("distributed")
    path, _ = features
    shards = [Shard(item_ids=chunk, feature_path=str(path)) for chunk in np.array_split(np.arange(1, 1001), 5)]
    local = score_shards(shards, spec())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = score_shards(shards, spec(), scheduler_address=cluster.scheduler_address)
    assert local[0].tolist() == remote[0].tolist()
    np.testing.assert_array_equal(local[1], remote[1])
    assert pq.read_metadata(path).num_rows == 1000
