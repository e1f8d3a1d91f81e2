"""Every upload stops at its cap while it streams in; a page names the cap next to the field, the API answers 413."""

import html
import io

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser
from django.test import Client, RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from consent.models import ConsentEvent, DataItem, ImportBatch
from core.api import FieldError
from core.uploads import CappedUploadHandler, cap_uploads, refuse_oversized, refused_uploads, size_label
from scoring.engine.architectures import load_architecture
from scoring.engine.weights import state_bytes
from scoring.models import ModelVersion

HEADER = "event_id,subject,kind,purposes,notice_version,channel,collected_at,jurisdiction,birth_month\n"


def consent_csv(rows: int) -> bytes:
    lines = [f"CAP-{n},SUBJ-CAP-{n},grant,evaluation,1,paper_form,2025-02-01,DE,1980-04\n" for n in range(rows)]
    return (HEADER + "".join(lines)).encode()


def field_error(response, field: str) -> str:
    """The error text the page shows next to a form field."""
    page = response.content.decode()
    return html.unescape(page[page.index(f'for="id_{field}"') :].split("</div>")[0])


class Recorder(FileUploadHandler):
    """Stands where the memory and temporary-file handlers stand: counts what it is handed."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        return None

    def file_complete(self, file_size):
        return None


def multipart(fields: dict) -> tuple[dict, bytes]:
    body = encode_multipart(BOUNDARY, fields)
    return {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body))}, body


# The handler ---------------------------------------------------------------------------------------


def test_it_stops_passing_a_file_on_once_it_passes_its_cap():
    meta, body = multipart({"file": SimpleUploadedFile("big.csv", b"x" * (1024 * 1024)), "note": "after the file"})
    capped, recorder = CappedUploadHandler(caps={"file": 64 * 1024}), Recorder()
    post, files = MultiPartParser(meta, io.BytesIO(body), [capped, recorder]).parse()
    assert recorder.received <= 64 * 1024  # what is stored behind the handler never passes the cap
    assert capped.refused == {"file": 64 * 1024} and "file" not in files
    assert post["note"] == "after the file"  # later fields (the CSRF token among them) still arrive


def test_it_lets_a_file_within_its_cap_through_whole():
    meta, body = multipart({"file": SimpleUploadedFile("small.csv", b"x" * 5000)})
    capped, recorder = CappedUploadHandler(caps={"file": 5000}), Recorder()
    MultiPartParser(meta, io.BytesIO(body), [capped, recorder]).parse()
    assert recorder.received == 5000 and capped.refused == {}


def test_every_upload_is_capped_by_default(settings):
    settings.MAX_UPLOAD_BYTES = 4096
    assert settings.FILE_UPLOAD_HANDLERS[0] == "core.uploads.CappedUploadHandler"
    request = RequestFactory().post("/any/page/", {"file": SimpleUploadedFile("a.bin", b"x" * 10_000)})
    assert "file" not in request.FILES
    assert refused_uploads(request) == {"file": 4096}


def test_the_cap_is_named_as_people_write_sizes():
    assert [size_label(n) for n in (200 * 1024**2, 1536, 512 * 1024**2, 3 * 1024**3, 100)] == [
        "200 MB", "1.5 KB", "512 MB", "3 GB", "100 bytes",
    ]  # fmt: skip


def test_the_default_caps_are_set_from_the_environment_and_sane():
    assert settings.MAX_UPLOAD_BYTES <= settings.MAX_IMPORT_UPLOAD_BYTES <= 1024**3
    assert settings.MAX_WEIGHTS_UPLOAD_BYTES <= 1024**3 and settings.MAX_SCORES_UPLOAD_BYTES <= 1024**3
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 10 * 1024**2


# Pages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/consent/import/", "items"])
def test_an_import_past_its_cap_gets_a_form_error_naming_the_cap_and_writes_nothing(client_as, settings, dataset, url):
    settings.MAX_IMPORT_UPLOAD_BYTES = 2048
    url = f"/consent/datasets/{dataset.pk}/import/" if url == "items" else url
    response = client_as("steward").post(url, {"file": SimpleUploadedFile("events.csv", consent_csv(100))})
    assert response.status_code == 200
    assert refused_uploads(response.wsgi_request) == {"file": 2048}  # cut off as it streamed in
    assert "The file is larger than 2 KB" in field_error(response, "file")
    assert "import it with the management command" in field_error(response, "file")
    assert (ImportBatch.objects.count(), ConsentEvent.objects.count(), DataItem.objects.count()) == (0, 0, 0)


def test_the_same_import_under_its_cap_is_imported(client_as, settings, notice):
    settings.MAX_IMPORT_UPLOAD_BYTES = 64 * 1024
    response = client_as("steward").post("/consent/import/", {"file": SimpleUploadedFile("e.csv", consent_csv(100))})
    assert response.status_code == 302 and ConsentEvent.objects.count() == 100


def weights_form(**files) -> dict:
    values = {
        "name": "capped-model", "version": "1", "kind": "torch", "architecture": "tabular-mlp",
        "config": '{"feature_columns": ["f1", "f2", "f3"]}', "description": "",
    }  # fmt: skip
    return {**values, **files}


def test_weights_past_their_cap_get_an_error_naming_the_cap(client_as, settings):
    weights = state_bytes(load_architecture("tabular-mlp", {"feature_columns": ["f1", "f2", "f3"]}).module)
    settings.MAX_WEIGHTS_UPLOAD_BYTES = len(weights) - 1
    form = weights_form(weights=SimpleUploadedFile("model.safetensors", weights))
    response = client_as("officer").post("/scoring/models/new/", form)
    assert response.status_code == 200
    assert refused_uploads(response.wsgi_request) == {"weights": len(weights) - 1}
    assert "The file is larger than" in field_error(response, "weights")
    assert not ModelVersion.objects.filter(name="capped-model").exists()
    settings.MAX_WEIGHTS_UPLOAD_BYTES = len(weights)
    form = weights_form(weights=SimpleUploadedFile("model.safetensors", weights))
    assert client_as("officer").post("/scoring/models/new/", form).status_code == 302


def test_a_scores_file_past_its_cap_gets_an_error_naming_the_cap(client_as, settings):
    settings.MAX_SCORES_UPLOAD_BYTES = 1024
    scores = b"item,score\n" + b"".join(f"ITEM-{n},0.5\n".encode() for n in range(200))
    form = {
        "name": "capped-scores",
        "version": "1",
        "kind": "precomputed",
        "scores": SimpleUploadedFile("s.csv", scores),
    }
    response = client_as("officer").post("/scoring/models/new/", form)
    assert response.status_code == 200
    assert refused_uploads(response.wsgi_request) == {"scores": 1024}
    assert "The file is larger than 1 KB" in field_error(response, "scores")
    assert not ModelVersion.objects.filter(name="capped-scores").exists()


def test_a_capped_page_still_checks_the_csrf_token(role_user, notice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_user("steward"))
    refused = client.post("/consent/import/", {"file": SimpleUploadedFile("e.csv", consent_csv(2))})
    assert refused.status_code == 403 and not ConsentEvent.objects.exists()
    client.get("/consent/import/")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    form = {"csrfmiddlewaretoken": token, "file": SimpleUploadedFile("e.csv", consent_csv(2))}
    assert client.post("/consent/import/", form).status_code == 302
    assert ConsentEvent.objects.count() == 2


# The API -------------------------------------------------------------------------------------------


def test_an_api_upload_past_its_cap_is_answered_413_naming_the_cap(settings):
    settings.MAX_SCORES_UPLOAD_BYTES = 4096
    request = RequestFactory().post("/api/v1/anything", {"file": SimpleUploadedFile("s.csv", b"x" * 10_000)})
    cap_uploads(file="MAX_SCORES_UPLOAD_BYTES")(request)  # as an endpoint's before_body would
    assert "file" not in request.FILES
    with pytest.raises(FieldError) as refused:
        refuse_oversized(request)
    assert (refused.value.status_code, refused.value.field) == (413, "file")
    assert "larger than 4 KB" in str(refused.value.message)


def test_an_api_upload_within_its_cap_is_not_refused(settings):
    request = RequestFactory().post("/api/v1/anything", {"file": SimpleUploadedFile("s.csv", b"x" * 100)})
    cap_uploads(file="MAX_SCORES_UPLOAD_BYTES")(request)
    assert request.FILES["file"].read() == b"x" * 100
    refuse_oversized(request)
