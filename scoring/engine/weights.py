"""Model weights, accepted only as safetensors.

A ``.pt``/``.pth`` file is a pickle and a ``.pt2`` or TorchScript archive carries code: loading
either can run whatever its author wrote. Safetensors is a header of JSON and raw tensor
bytes, nothing else, so it is the only format read here; the check looks at the bytes, not
just the file name, and never hands anything else to a loader.
"""

import json
import struct
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors_bytes
from torch import nn

REFUSED_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".pt2", ".ckpt", ".bin", ".zip", ".torchscript", ".jit"}
MAX_HEADER_BYTES = 100_000_000

NOT_SAFETENSORS = (
    "{name} is not a safetensors file ({reason}). Model weights are accepted only as safetensors: "
    "a .pt, .pth, .pkl or .pt2 file, or a TorchScript archive, is a program that can run code when it is "
    "loaded, so it is never opened here. Convert it where the model was trained, with "
    "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')."
)
DOES_NOT_FIT = "the weights do not fit architecture {architecture!r}: {detail}"


class WeightsError(ValueError):
    pass


def read_safetensors_header(data: bytes, *, name: str = "the file") -> dict:
    """The JSON header of safetensors bytes; raises WeightsError for anything else (pickles included)."""
    suffix = Path(name).suffix.lower()
    if suffix in REFUSED_SUFFIXES:
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason=f"{suffix} files are refused"))
    if data[:2] == b"PK":
        raise WeightsError(
            NOT_SAFETENSORS.format(name=name, reason="it is a zip archive, as torch.save and TorchScript write")
        )
    if data[:1] == b"\x80":
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason="it is a Python pickle"))
    if len(data) < 10:
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason="it is too short"))
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > min(MAX_HEADER_BYTES, len(data) - 8) or data[8:9] != b"{":
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason="it has no safetensors header"))
    try:
        header = json.loads(data[8 : 8 + header_size])
    except ValueError:
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason="its header is not JSON")) from None
    if not isinstance(header, dict):
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason="its header is not a JSON object"))
    return header


def load_weights(data: bytes, module: nn.Module, *, name: str = "the file", architecture: str = "") -> None:
    """Check that safetensors bytes fit `module` exactly, then load them into it."""
    read_safetensors_header(data, name=name)
    tensors = load_safetensors_bytes(data)
    expected = module.state_dict()
    for key, tensor in expected.items():
        if key not in tensors:
            raise WeightsError(DOES_NOT_FIT.format(architecture=architecture, detail=f"tensor {key!r} is missing"))
        given = tensors[key]
        if tuple(given.shape) != tuple(tensor.shape):
            detail = f"tensor {key!r} has shape {tuple(given.shape)}, the architecture expects {tuple(tensor.shape)}"
            raise WeightsError(DOES_NOT_FIT.format(architecture=architecture, detail=detail))
        if given.dtype != tensor.dtype:
            detail = f"tensor {key!r} is {given.dtype}, the architecture expects {tensor.dtype}"
            raise WeightsError(DOES_NOT_FIT.format(architecture=architecture, detail=detail))
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise WeightsError(DOES_NOT_FIT.format(architecture=architecture, detail=f"unexpected tensor {extra[0]!r}"))
    module.load_state_dict(tensors, strict=True)


def state_bytes(module: nn.Module) -> bytes:
    """The module's weights as safetensors bytes (what `train_demo_model` saves)."""
    from safetensors.torch import save

    return save({key: tensor.detach().contiguous() for key, tensor in module.state_dict().items()})


__all__ = ["WeightsError", "load_weights", "read_safetensors_header", "state_bytes", "torch"]
