import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from scoring.engine.architectures import load_architecture
from scoring.engine.weights import WeightsError, load_weights, read_safetensors_header, state_bytes

FEATURES = ["feature_a", "feature_b", "feature_c"]


class _Exploit:
    """Unpickling this object runs code: it writes a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran while loading weights"))


def mlp():
    return load_architecture("tabular-mlp", {"feature_columns": FEATURES})


def test_it_loads_weights_that_fit():
    trained = mlp()
    torch.nn.init.constant_(trained.module.layers[0].weight, 0.25)
    fresh = mlp()
    load_weights(state_bytes(trained.module), fresh.module, architecture="tabular-mlp")
    assert torch.equal(fresh.module.layers[0].weight, trained.module.layers[0].weight)


def test_it_refuses_a_pickled_model_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    payload = pickle.dumps({"layers.0.weight": _Exploit(marker)})
    for name in ("model.pt", "model.pth", "model.pkl", "model.safetensors"):
        with pytest.raises(WeightsError, match="accepted only as safetensors") as refused:
            load_weights(payload, mlp().module, name=name)
        assert name in str(refused.value)
    assert not marker.exists()


def test_it_refuses_a_torch_save_archive_and_torchscript(tmp_path):
    path = tmp_path / "model.bin"
    torch.save(mlp().module.state_dict(), path)
    with pytest.raises(WeightsError, match="zip archive"):
        read_safetensors_header(path.read_bytes(), name="weights")
    scripted = tmp_path / "scripted"
    torch.jit.script(mlp().module).save(str(scripted))
    assert zipfile.is_zipfile(scripted)
    with pytest.raises(WeightsError, match="safetensors"):
        read_safetensors_header(scripted.read_bytes(), name="weights")
    with pytest.raises(WeightsError, match=r"\.pt2 files are refused"):
        read_safetensors_header(b"anything", name="exported.pt2")


def test_it_names_the_first_tensor_that_does_not_fit():
    wrong = load_architecture("tabular-mlp", {"feature_columns": [*FEATURES, "feature_d"]})
    with pytest.raises(WeightsError) as refused:
        load_weights(state_bytes(wrong.module), mlp().module, architecture="tabular-mlp")
    assert "tensor 'mean' has shape (4,), the architecture expects (3,)" in str(refused.value)


def test_it_names_a_missing_tensor():
    state = {k: v for k, v in mlp().module.state_dict().items() if k != "layers.4.bias"}
    with pytest.raises(WeightsError, match="tensor 'layers.4.bias' is missing"):
        load_weights(save(state), mlp().module, architecture="tabular-mlp")


def test_it_refuses_garbage():
    with pytest.raises(WeightsError, match="no safetensors header"):
        read_safetensors_header(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!", name="w")
