import sqlite3

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from consent import ledger
from consent.errors import ImportFailed
from consent.importing.consent_events import import_consent_events
from consent.importing.readers import read_file
from consent.models import ConsentEvent, GuardianConsent, ImportBatch, Subject
from core.models import AuditLogEntry

HEADER = "event_id,subject,jurisdiction,birth_month,kind,purposes,notice_version,channel,collected_at,guardian\n"
GOOD = HEADER + (
    "e1,S1,DE,1980-02,grant,evaluation;bias_audit,1,web_form,2025-02-01T10:00:00Z,\n"
    "e2,S1,,,withdrawal,bias_audit,,web_form,2025-03-01,\n"
    "e3,S2,FR,2013-06,grant,evaluation,1,paper_form,2025-02-01,GUARD-9\n"
    "e4,S3,IE,1990-12,grant,training,1,in_app,2025-04-01T00:00:00+02:00,\n"
)


def write(tmp_path, text, name="events.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def import_path(actor, path):
    table = read_file(path)
    return import_consent_events(
        actor=actor, frame=table.frame, source_name=table.source_name, source_sha256=table.sha256
    )


def problems_of(actor, path):
    with pytest.raises(ImportFailed) as failed:
        import_path(actor, path)
    assert_nothing_written()
    return [str(p) for p in failed.value.problems]


def assert_nothing_written():
    assert not ConsentEvent.objects.exists()
    assert not Subject.objects.filter(reference__in=["S1", "S2", "S3", "S4", "S5"]).exists()
    assert not ImportBatch.objects.exists()
    assert not AuditLogEntry.objects.filter(action="consent.import").exists()


def test_it_imports_a_good_file(actor, notice, tmp_path):
    result = import_path(actor, write(tmp_path, GOOD))
    assert (result.rows, result.created, result.unchanged, result.new_subjects) == (4, 4, 0, 3)
    assert GuardianConsent.objects.get().reference == "GUARD-9"
    assert ledger.verify().ok
    entry = AuditLogEntry.objects.get(action="consent.import")
    assert entry.after["created"] == 4


def test_reimporting_the_same_file_creates_nothing(actor, notice, tmp_path):
    path = write(tmp_path, GOOD)
    import_path(actor, path)
    again = import_path(actor, path)
    assert (again.created, again.unchanged) == (0, 4)
    assert ConsentEvent.objects.count() == 4


def test_it_imports_parquet(actor, notice, tmp_path):
    frame = pd.read_csv(write(tmp_path, GOOD), dtype=str, keep_default_na=False)
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    assert import_path(actor, path).created == 4


def test_the_command_imports_from_a_sql_query(actor, notice, tmp_path, capsys):
    database = tmp_path / "crm.sqlite3"
    frame = pd.read_csv(write(tmp_path, GOOD), dtype=str, keep_default_na=False)
    with sqlite3.connect(database) as connection:
        frame.to_sql("consents", connection, index=False)
    call_command("import_consent", sql_url=f"sqlite:///{database}", query="SELECT * FROM consents")
    assert "Imported 4 consent events from 4 rows" in capsys.readouterr().out
    assert ImportBatch.objects.get().source_name.startswith("sqlite:///")


def test_the_command_reports_every_problem_and_fails(actor, notice, tmp_path, capsys):
    path = write(tmp_path, HEADER + "e1,S1,XX,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"
                                    "e2,S2,DE,1980-02,grant,marketing,1,web_form,2025-02-01,\n")  # fmt: skip
    with pytest.raises(CommandError, match="2 problem"):
        call_command("import_consent", str(path))
    err = capsys.readouterr().err
    assert "row 1, jurisdiction: unknown country 'XX'" in err
    assert "row 2, purposes: unknown purpose 'marketing'" in err
    assert_nothing_written()


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("e1,S1,DE,1980-02,withdrawal,,,web_form,2025-02-01,", "row 1, collected_at: a withdrawal at 2025-02-01"),
        ("e1,S1,DE,1980-02,grant,evaluation,1,web_form,2099-02-01,", "row 1, collected_at: 2099-02-01T00:00:00+00:00 is in the future"),
        ("e1,S1,DE,1980-02,grant,evaluation,1,web_form,2023-06-01,", "row 1, collected_at: collected at 2023-06-01T00:00:00+00:00, before notice 1/en was published"),
        ("e1,S1,DE,1980-02,grant,dancing,1,web_form,2025-02-01,", "row 1, purposes: unknown purpose 'dancing'"),
        ("e1,S1,ZZ,1980-02,grant,evaluation,1,web_form,2025-02-01,", "row 1, jurisdiction: unknown country 'ZZ'"),
        ("e1,S1,FR,2013-02,grant,evaluation,1,web_form,2025-02-01,", "row 1, guardian: the subject was at most 11"),
        ("e1,S1,DE,1980-02,grant,evaluation,9,web_form,2025-02-01,", "row 1, notice_version: no notice '9' has been published"),
        ("e1,S1,DE,1980-02,grant,evaluation,1,pigeon,2025-02-01,", "row 1, channel: unknown channel 'pigeon'"),
        ("e1,S1,DE,1980-02,grant,evaluation,1,web_form,yesterday,", "row 1, collected_at: 'yesterday' is not a date"),
        ("e1,S1,DE,02/1980,grant,evaluation,1,web_form,2025-02-01,", "row 1, birth_month: '02/1980' is not a birth month"),
        ("e1,S1,,,grant,evaluation,1,web_form,2025-02-01,", "row 1, jurisdiction: subject 'S1' is new, so jurisdiction is required"),
        (",S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,", "row 1, event_id: event_id is empty"),
        ("e1,S1,DE,1980-02,gift,evaluation,1,web_form,2025-02-01,", "row 1, kind: unknown event kind 'gift'"),
    ],
)  # fmt: skip
def test_it_refuses_a_bad_row_naming_row_and_field(actor, notice, tmp_path, row, expected):
    problems = problems_of(actor, write(tmp_path, HEADER + row + "\n"))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_it_refuses_duplicate_event_ids_with_different_content_in_the_file(actor, notice, tmp_path):
    text = HEADER + (
        "e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"
        "e1,S1,DE,1980-02,grant,bias_audit,1,web_form,2025-02-01,\n"
    )
    problems = problems_of(actor, write(tmp_path, text))
    assert problems == ["row 2, event_id: event id 'e1' already appears on row 1 with different content"]


def test_it_accepts_an_exact_duplicate_row_once(actor, notice, tmp_path):
    row = "e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"
    result = import_path(actor, write(tmp_path, HEADER + row + row))
    assert (result.created, result.unchanged) == (1, 1)


def test_it_refuses_an_event_id_recorded_with_different_content(actor, notice, tmp_path):
    import_path(actor, write(tmp_path, GOOD))
    changed = HEADER + "e1,S1,,,grant,evaluation,1,email,2025-02-01T10:00:00Z,\n"
    with pytest.raises(ImportFailed) as failed:
        import_path(actor, write(tmp_path, changed, name="changed.csv"))
    assert [str(p) for p in failed.value.problems] == [
        "row 1, event_id: event id 'e1' is already recorded with different content"
    ]
    assert ConsentEvent.objects.count() == 4


def test_it_refuses_a_subject_whose_facts_differ_from_the_record(actor, notice, tmp_path):
    import_path(actor, write(tmp_path, GOOD))
    text = HEADER + "e9,S1,FR,1980-02,grant,evaluation,1,web_form,2025-05-01,\n"
    with pytest.raises(ImportFailed) as failed:
        import_path(actor, write(tmp_path, text, name="other.csv"))
    assert "row 1, jurisdiction: jurisdiction 'FR' differs from 'DE'" in str(failed.value.problems[0])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "file: the file is empty"),
        (HEADER.encode(), "file: the file has a header but no rows"),
        (HEADER.encode() + "e1,S1,DE,1980-02,grant,évaluation,1,web_form,2025-02-01,\n".encode("latin-1"),
         "file: the file is not UTF-8 text: byte 0xe9 on line 2"),
        (HEADER.encode() + b"e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,,extra,cells\n",
         "file: the CSV is malformed: line 2: expected 10 columns, got 12"),
        (HEADER.encode() + b"e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,\ne2,S1,DE\n",
         "file: the CSV is malformed: line 3: expected 10 columns, got 3"),
        (b"event_id,subject,kind,channel,collected_at,colour\ne1,S1,grant,web_form,2025-02-01,blue\n",
         "file: unknown column(s) colour"),
        (b"event_id,subject,kind\ne1,S1,grant\n", "file: missing required column(s) channel, collected_at"),
    ],
)  # fmt: skip
def test_it_refuses_a_bad_file(actor, notice, tmp_path, content, expected):
    path = tmp_path / "events.csv"
    path.write_bytes(content)
    problems = problems_of(actor, path)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_it_reports_every_problem_of_a_file(actor, notice, tmp_path):
    text = HEADER + (
        "e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"
        "e2,S2,XX,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"
        "e3,S3,DE,1980-02,withdrawal,,,web_form,2025-02-01,\n"
        "e4,S4,DE,1980-02,grant,evaluation,1,web_form,2099-01-01,\n"
    )
    problems = problems_of(actor, write(tmp_path, text))
    assert [p.split(",")[0] for p in problems] == ["row 2", "row 3", "row 4"]
