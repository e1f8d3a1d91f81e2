"""A small file that decodes to gigabytes is refused while it is decoded, with the process staying under 1 GB.

The bomb is the issue's: about 240 KB of Parquet that decodes to 6 GB. Before batches and limits, a quarter of
it (60 KB, 1.5 GB decoded) grew the reading process to 7 GB, and half of it ran out of a 19 GB address space at
9.6 GB. Peak memory is measured in a fresh process, since the test process's own peak says nothing about one
import; that process's baseline (Django and the apps, torch included) is about 400 MB of it.
"""

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consent.errors import ImportFailed
from consent.importing import readers
from consent.models import ConsentEvent, ImportBatch
from core.uploads import size_label
from scoring.models import ModelVersion
from tests.consent.importing.bombs import BOMB_COLUMN, COLUMNS, decoded_bytes, dictionary_bomb, plain_bomb

ROOT = Path(__file__).resolve().parents[2]
PEAK_LIMIT = 1024**3

MEASURE = """
import json, os, resource, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.conf import settings
from consent.errors import ImportFailed
from consent.importing import readers
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the app loaded, nothing imported yet
try:
    table = readers.read_file(sys.argv[1])
    problems = []
except ImportFailed as failure:
    problems = [str(problem) for problem in failure.problems]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # ru_maxrss is in KiB on Linux
limits = {"cell": settings.IMPORT_MAX_CELL_BYTES, "decoded": settings.IMPORT_MAX_DECODED_BYTES}
print("RESULT " + json.dumps({"problems": problems, "peak": peak, "before": before, "limits": limits}), flush=True)
os._exit(0)  # skip interpreter teardown, which has nothing to say about the import
"""


def measured_import(path: Path) -> dict:
    """Import `path` in a fresh process with the default limits; its problems and its peak resident memory."""
    # Only what the settings need: nothing an earlier test left in the environment (and no IMPORT_MAX_*).
    wanted = ("PATH", "HOME", "LANG", "DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT",
              "DJANGO_SETTINGS_MODULE", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # fmt: skip
    env = {name: os.environ[name] for name in wanted if name in os.environ}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout + done.stderr
    return json.loads(lines[-1].removeprefix("RESULT "))


def problems_reading(path: Path) -> list[str]:
    with pytest.raises(ImportFailed) as failed:
        readers.read_file(path)
    return [str(problem) for problem in failed.value.problems]


# The bomb ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_it_refuses_the_parquet_bomb_with_a_clear_message_and_peak_memory_under_1_gb(tmp_path):
    bomb = dictionary_bomb(tmp_path / "bomb.parquet")
    assert bomb.stat().st_size < 300 * 1024 and decoded_bytes() > 5 * 1024**3  # ~240 KB that decode to 6 GB
    result = measured_import(bomb)
    per_row = decoded_bytes(row_groups=1, rows_per_group=1) + (len(COLUMNS) + 1) * readers.CELL_OVERHEAD
    row = result["limits"]["decoded"] // per_row + 1  # the first row past the limit
    message = readers.TOO_MUCH_DATA.format(limit=size_label(result["limits"]["decoded"]))
    assert result["problems"] == [f"row {row}: {message}"]
    # The import's own peak: what it adds to the process's (the Django app with torch loaded is ~400 MiB, and more
    # in some environments), so that the figure measures the reader, not what else the process imported.
    grown = result["peak"] - result["before"]
    assert grown < PEAK_LIMIT, f"the import took the process from {result['before'] / 1024**2:.0f} MiB to " \
                               f"{result['peak'] / 1024**2:.0f} MiB"


def test_a_bomb_of_long_cells_is_refused_by_the_cell_limit_naming_each_row_and_column(tmp_path, settings):
    bomb = dictionary_bomb(tmp_path / "cells.parquet", row_groups=2, rows_per_group=3, value_bytes=1024 * 1024)
    message = readers.CELL_TOO_LARGE.format(size=1024 * 1024, limit=settings.IMPORT_MAX_CELL_BYTES)
    assert problems_reading(bomb) == [f"row {row}, {BOMB_COLUMN}: {message}" for row in (1, 2, 3)]


def test_a_plain_encoded_bomb_is_refused_from_its_footer_before_any_page_is_decoded(tmp_path, settings, monkeypatch):
    settings.IMPORT_MAX_CELL_BYTES = 128 * 1024
    settings.IMPORT_MAX_DECODED_BYTES = 1024 * 1024
    bomb = plain_bomb(tmp_path / "plain.parquet", rows=64, value_bytes=64 * 1024)  # 4 MB of text, 2 KB on disk

    def decode(*args, **kwargs):
        raise AssertionError("the bomb was decoded")

    monkeypatch.setattr(readers, "_collect", decode)
    [problem] = problems_reading(bomb)
    assert problem.startswith("file: the file's pages decompress to 4") and "more than the 1 MB" in problem


def test_the_rows_of_a_file_are_limited(tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 5
    csv = tmp_path / "rows.csv"
    csv.write_text("event_id,subject\n" + "".join(f"E{n},S{n}\n" for n in range(6)))
    assert problems_reading(csv) == ["row 6: " + readers.TOO_MANY_ROWS.format(limit=5)]
    parquet = dictionary_bomb(tmp_path / "rows.parquet", row_groups=1, rows_per_group=6, value_bytes=10)
    assert problems_reading(parquet) == ["row 6: " + readers.TOO_MANY_ROWS.format(limit=5)]


def test_a_csv_past_the_decoded_limit_is_refused_at_the_row_that_passes_it(tmp_path, settings):
    settings.IMPORT_MAX_DECODED_BYTES = 99_500
    csv = tmp_path / "big.csv"
    csv.write_text("event_id,note\n" + "".join(f"E{n:04d},{'x' * 979}\n" for n in range(200)))  # 1,000 a row
    assert problems_reading(csv) == ["row 100: " + readers.TOO_MUCH_DATA.format(limit=size_label(99_500))]


def test_a_csv_cell_past_the_limit_is_refused_with_its_row_and_column(tmp_path, settings):
    settings.IMPORT_MAX_CELL_BYTES = 100
    csv = tmp_path / "cell.csv"
    csv.write_text("event_id,note\nE1,short\nE2," + "y" * 101 + "\n")
    assert problems_reading(csv) == ["row 2, note: " + readers.CELL_TOO_LARGE.format(size=101, limit=100)]


def test_a_csv_row_longer_than_a_block_is_refused_with_its_row(tmp_path):
    csv = tmp_path / "row.csv"
    csv.write_text("event_id,note\nE1,short\nE2," + "z" * (3 * 1024 * 1024) + "\n")
    [problem] = problems_reading(csv)
    assert problem.startswith("row 2: the row is longer than")


# Through the pages ---------------------------------------------------------------------------------


def test_the_consent_import_page_refuses_the_bomb_and_writes_nothing(client_as, settings, tmp_path):
    settings.IMPORT_MAX_DECODED_BYTES = 8 * 1024 * 1024
    bomb = dictionary_bomb(tmp_path / "bomb.parquet").read_bytes()
    response = client_as("steward").post("/consent/import/", {"file": SimpleUploadedFile("bomb.parquet", bomb)})
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "the data decodes to more than 8 MB by this row" in page
    assert not ImportBatch.objects.exists() and not ConsentEvent.objects.exists()


def test_a_scores_file_that_is_a_bomb_is_refused_next_to_its_field(client_as, settings, tmp_path):
    settings.IMPORT_MAX_DECODED_BYTES = 8 * 1024 * 1024
    bomb = dictionary_bomb(tmp_path / "scores.parquet").read_bytes()
    form = {"name": "bomb", "version": "1", "kind": "precomputed", "scores": SimpleUploadedFile("s.parquet", bomb)}
    response = client_as("officer").post("/scoring/models/new/", form)
    page = response.content.decode()
    error = html.unescape(page[page.index('for="id_scores"') :].split("</div>")[0])
    assert response.status_code == 200 and "the data decodes to more than 8 MB by this row" in error
    assert not ModelVersion.objects.filter(name="bomb").exists()
