"""Malformed safetensors get the same clear refusal as other bad weights: a form error, never a 500, and
nothing in them is unpickled (a pickle's payload would create a folder; it never appears)."""

import html
import json
import os
import pickle
import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consent.errors import RuleViolation
from core.audit_log import Actor
from scoring import services
from scoring.engine.architectures import load_architecture
from scoring.engine.weights import state_bytes
from scoring.models import ModelVersion

COLUMNS = ["f1", "f2", "f3"]
CONFIG = {"feature_columns": COLUMNS}


class Payload:
    """Unpickling this makes a folder: if the folder exists, something unpickled the upload."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def good_weights() -> bytes:
    return state_bytes(load_architecture("tabular-mlp", CONFIG).module)


def with_header(header, body: bytes = b"") -> bytes:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(text)) + text + body


def malformed(marker) -> dict[str, tuple[bytes, str]]:
    """Name -> (the file, what the refusal says about it)."""
    payload = pickle.dumps(Payload(marker))
    good = good_weights()
    tensor = {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}
    return {
        "a header followed by a pickle": (with_header({"w": tensor}, payload), "it is truncated"),
        "good weights with a pickle after them": (good + payload, f"{len(payload):,} bytes follow its last tensor"),
        "a truncated file": (good[: len(good) // 2], "it is truncated"),
        "a header length past the file's size": (struct.pack("<Q", 10**6) + b'{"w": 1}', "no safetensors header"),
        "a header that is not JSON": (with_header(b"{not json}", b"\0" * 8), "its header is not JSON"),
        "a header nested too deep to parse": (with_header(b"{" + b'"a":[' * 100_000 + b"]" * 100_000 + b"}"),
                                              "its header is not JSON"),
        "a header entry that is not a tensor": (with_header({"w": 5}, b"\0" * 4), "does not describe a tensor"),
        "an unknown dtype": (with_header({"w": {"dtype": "PICKLE", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
                             "safetensors cannot read it"),
        "a bare pickle named .safetensors": (payload, "it is a Python pickle"),
    }  # fmt: skip


CASES = list(malformed("unused"))


def weights_form(data: bytes) -> dict:
    return {
        "name": "malformed", "version": "1", "kind": "torch", "architecture": "tabular-mlp",
        "config": json.dumps(CONFIG), "description": "",
        "weights": SimpleUploadedFile("model.safetensors", data),
    }  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_the_page_refuses_malformed_safetensors_next_to_the_weights_field(client_as, tmp_path, case):
    marker = tmp_path / "unpickled"
    data, reason = malformed(marker)[case]
    response = client_as("officer").post("/scoring/models/new/", weights_form(data))
    assert response.status_code == 200
    page = response.content.decode()
    error = html.unescape(page[page.index('for="id_weights"') :].split("</div>")[0])
    assert "model.safetensors is not a safetensors file" in error and reason in error
    assert "accepted only as safetensors" in error
    assert not ModelVersion.objects.filter(name="malformed").exists()
    assert not marker.exists()


@pytest.mark.parametrize("case", CASES)
def test_the_service_refuses_malformed_safetensors_as_bad_weights(db, tmp_path, case):
    marker = tmp_path / "unpickled"
    data, reason = malformed(marker)[case]
    with pytest.raises(RuleViolation) as refused:
        services.register_model_version(
            actor=Actor.system("test"), name="malformed", version="1", architecture="tabular-mlp", config=CONFIG,
            weights=data, weights_name="model.safetensors",
        )  # fmt: skip
    [(field, message)] = refused.value.problems
    assert field == "weights" and reason in message
    assert not marker.exists() and not ModelVersion.objects.exists()


def test_well_formed_weights_are_still_registered(db):
    model = services.register_model_version(
        actor=Actor.system("test"), name="fine", version="1", architecture="tabular-mlp", config=CONFIG,
        weights=good_weights(), weights_name="model.safetensors",
    )  # fmt: skip
    assert model.kind == "torch" and len(model.artifact_sha256) == 64
