"""The import readers: CSV, Parquet and SQL decoded in batches into frames of strings, with every refusal
naming its row. (The limits' security cases, the bomb among them, are in tests/security/test_uploads_tabular.py.)"""

import sqlite3
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consent.errors import ImportFailed
from consent.importing import readers


def problems(path, **kwargs) -> list[str]:
    with pytest.raises(ImportFailed) as failed:
        readers.read_file(path, **kwargs)
    return [str(problem) for problem in failed.value.problems]


def test_it_names_the_row_of_a_long_cell_in_a_later_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BATCH_ROWS", 2)
    path = tmp_path / "notes.parquet"
    notes = ["a", "b", "c", "d", "x" * 200, "f"]
    pq.write_table(pa.table({"event_id": [f"E{n}" for n in range(6)], "note": notes}), path, row_group_size=2)
    limits = readers.Limits(rows=100, cell_bytes=100, decoded_bytes=10**6)
    assert problems(path, limits=limits) == ["row 5, note: " + readers.CELL_TOO_LARGE.format(size=200, limit=100)]


def test_it_counts_rows_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BATCH_ROWS", 2)
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"event_id": [f"E{n}" for n in range(7)]}), path, row_group_size=3)
    table = readers.read_file(path, limits=readers.Limits(rows=7, cell_bytes=100, decoded_bytes=10**6))
    assert table.frame["event_id"].tolist() == [f"E{n}" for n in range(7)]
    assert problems(path, limits=readers.Limits(rows=6, cell_bytes=100, decoded_bytes=10**6)) == [
        "row 7: " + readers.TOO_MANY_ROWS.format(limit=6)
    ]


def test_it_finds_the_line_of_a_byte_that_is_not_utf8_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_BYTES", 7)
    path = tmp_path / "latin.csv"
    path.write_bytes(b"\xef\xbb\xbfevent_id,note\nE1,caf\xc3\xa9\nE2,na\xefve\n")
    assert problems(path) == ["file: " + readers.NOT_UTF8.format(byte=0xEF, line=3)]


def test_a_multibyte_character_cut_by_the_end_of_the_file_is_named(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_bytes(b"event_id,note\nE1,caf\xc3")
    assert problems(path) == ["file: " + readers.NOT_UTF8.format(byte=0xC3, line=2)]


def test_a_header_without_rows_or_newline_has_no_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_bytes(b"event_id,subject")
    assert problems(path) == ["file: " + readers.NO_ROWS]


def test_it_refuses_a_parquet_column_of_lists(tmp_path):
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"event_id": ["E1"], "purposes": [["evaluation", "bias_audit"]]}), path)
    assert problems(path) == ["file: " + readers.NESTED_COLUMN.format(name="purposes", type="list<element: string>")]


def test_it_refuses_a_file_that_is_not_parquet_with_a_reason(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_bytes(b"event_id,subject\nE1,S1\n")
    [problem] = problems(path)
    assert problem.startswith("file: the file cannot be read as Parquet: ")


def test_it_reads_categorical_and_typed_parquet_columns_as_strings(tmp_path):
    path = tmp_path / "typed.parquet"
    frame = pd.DataFrame(
        {
            "kind": pd.Categorical(["grant", "withdrawal", "grant"]),
            "notice_version": [1.0, None, 3.0],
            "birth_month": [date(1980, 2, 1), None, date(1990, 5, 1)],
        },
        index=["a", "b", "c"],  # written as a column; read back as the index, not as a column
    )
    frame.to_parquet(path)
    read = readers.read_file(path).frame
    assert list(read.columns) == ["kind", "notice_version", "birth_month"]
    assert read.to_dict("list") == {
        "kind": ["grant", "withdrawal", "grant"],
        "notice_version": ["1", "", "3"],
        "birth_month": ["1980-02-01", "", "1990-05-01"],
    }


def test_a_sql_source_gives_the_same_strings_as_a_file(tmp_path):
    path = tmp_path / "crm.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (event_id TEXT, version INTEGER, score REAL, note TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [("E1", 1, 0.5, None), ("E2", None, 2.0, "x")])
    db.close()
    table = readers.read_sql(f"sqlite:///{path}", "SELECT * FROM t")
    assert table.frame.to_dict("list") == {
        "event_id": ["E1", "E2"], "version": ["1", ""], "score": ["0.5", "2"], "note": ["", "x"],
    }  # fmt: skip


def test_a_sql_source_with_a_repeated_column_is_refused(tmp_path):
    path = tmp_path / "crm.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (event_id TEXT)")
        db.execute("INSERT INTO t VALUES ('E1')")
    db.close()
    with pytest.raises(ImportFailed) as failed:
        readers.read_sql(f"sqlite:///{path}", "SELECT event_id, event_id FROM t")
    assert [str(p) for p in failed.value.problems] == ["file: " + readers.DUPLICATE_COLUMNS.format(name="event_id")]


def test_an_upload_is_read_under_its_own_name():
    upload = SimpleUploadedFile("../../etc/consents.csv", b"event_id,subject\nE1,S1\n")
    table = readers.read_upload(upload)
    assert table.source_name == "consents.csv" and table.frame.to_dict("list") == {
        "event_id": ["E1"],
        "subject": ["S1"],
    }
