import io
import sqlite3
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from consent import ledger, selectors, services
from consent.errors import ImportFailed, ImportProblem
from consent.importing import common, readers
from consent.importing import consent_events as importer
from consent.importing.consent_events import import_consent_events
from consent.models import ConsentEvent, GuardianConsent, ImportBatch, Subject
from consent.rules import events as rules
from consent.rules.age_of_consent import guardian_requirement
from consent.rules.countries import UNKNOWN_COUNTRY
from consent.rules.purposes import UNKNOWN_PURPOSE, Purpose
from core.models import AuditLogEntry
from tests.conftest import at

HEADER = "event_id,subject,jurisdiction,birth_month,kind,purposes,notice_version,channel,collected_at,guardian\n"
GOOD = HEADER + (
    "e1,S1,DE,1980-02,grant,evaluation;bias_audit,1,web_form,2025-02-01T10:00:00Z,\n"
    "e2,S1,,,withdrawal,bias_audit,,web_form,2025-03-01,\n"
    "e3,S2,FR,2013-06,grant,evaluation,1,paper_form,2025-02-01,GUARD-9\n"
    "e4,S3,IE,1990-12,grant,training,1,in_app,2025-04-01T00:00:00+02:00,\n"
)
ADULT = "e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,"
KNOWN_PURPOSES = "training, evaluation, bias_audit, publication"
ALL_COLUMNS = ", ".join(sorted(importer.REQUIRED | importer.OPTIONAL))


def write(tmp_path, text, name="events.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def import_path(actor, path):
    table = readers.read_file(path)
    return import_consent_events(
        actor=actor, frame=table.frame, source_name=table.source_name, source_sha256=table.sha256
    )


def problems_from_service(actor, path):
    with pytest.raises(ImportFailed) as failed:
        import_path(actor, path)
    return [str(problem) for problem in failed.value.problems]


def problems_from_command(actor, path):
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("import_consent", str(path), stdout=io.StringIO(), stderr=err)
    problems = err.getvalue().splitlines()
    assert str(failed.value) == f"{len(problems)} problem(s) found; nothing was imported"
    return problems


@pytest.fixture(params=["service", "command"])
def problems_of(request, actor, notice):
    """Import a file that must fail through the service or the command; check nothing was written."""

    def run(path):
        counts = written_counts()
        problems = (problems_from_service if request.param == "service" else problems_from_command)(actor, path)
        assert written_counts() == counts, "a failed import wrote something"
        return problems

    return run


def written_counts():
    return (
        ConsentEvent.objects.count(),
        Subject.objects.count(),
        ImportBatch.objects.count(),
        AuditLogEntry.objects.count(),
        GuardianConsent.objects.count(),
        ledger.verify().count,
    )


def one_row(row):
    return HEADER + row + "\n"


# Good input ----------------------------------------------------------------------------------


def test_it_imports_a_good_file(actor, notice, tmp_path):
    result = import_path(actor, write(tmp_path, GOOD))
    assert (result.rows, result.created, result.unchanged, result.new_subjects) == (4, 4, 0, 3)
    events = {e.event_id: e for e in ConsentEvent.objects.select_related("subject")}
    assert set(events) == {"e1", "e2", "e3", "e4"}
    assert events["e1"].collected_at == datetime(2025, 2, 1, 10, tzinfo=UTC)
    assert events["e4"].collected_at == datetime(2025, 3, 31, 22, tzinfo=UTC)
    assert events["e2"].purpose_list == [Purpose.BIAS_AUDIT]
    assert {e.age_rule_version for e in events.values() if e.kind == "grant"} == {"eu-2024.1"}
    assert {e.import_batch_id for e in events.values()} == {result.batch.pk}
    assert GuardianConsent.objects.get().event == events["e3"]
    s2 = Subject.objects.get(reference="S2")
    assert (s2.jurisdiction, s2.birth_month, len(s2.salt)) == ("FR", date(2013, 6, 1), 32)
    assert ledger.verify().ok
    assert selectors.is_consent_active(Subject.objects.get(reference="S1"), Purpose.EVALUATION, at(2025, 4))
    assert not selectors.is_consent_active(Subject.objects.get(reference="S1"), Purpose.BIAS_AUDIT, at(2025, 4))


def test_it_records_the_batch_and_one_audit_entry(actor, notice, tmp_path):
    path = write(tmp_path, GOOD)
    result = import_path(actor, path)
    batch = ImportBatch.objects.get()
    assert (batch.kind, batch.source_name, batch.rows, batch.created, batch.unchanged) == (
        "consent",
        "events.csv",
        4,
        4,
        0,
    )
    assert batch.source_sha256 == ledger.chain.sha256_hex(path.read_bytes())
    [entry] = AuditLogEntry.objects.filter(action="consent.import")
    assert entry.object_id == str(result.batch.pk)
    assert entry.after["created"] == 4 and entry.after["new_subjects"] == 3
    assert "S1" not in str(entry.after)


def test_the_command_imports_a_file_and_says_what_it_did(notice, tmp_path):
    out = io.StringIO()
    call_command("import_consent", str(write(tmp_path, GOOD)), stdout=out)
    batch = ImportBatch.objects.get()
    assert out.getvalue() == (
        f"Imported 4 consent events from 4 rows (0 already recorded, 3 new subjects); batch {batch.pk}\n"
    )
    assert batch.actor_label.startswith("cli:")


def test_reimporting_the_same_file_creates_no_duplicates(actor, notice, tmp_path):
    path = write(tmp_path, GOOD)
    import_path(actor, path)
    hashes = list(ConsentEvent.objects.values_list("hash", flat=True))
    again = import_path(actor, path)
    assert (again.created, again.unchanged, again.new_subjects) == (0, 4, 0)
    assert list(ConsentEvent.objects.values_list("hash", flat=True)) == hashes
    assert Subject.objects.count() == 3
    assert ledger.verify().count == 4


def test_the_command_reports_a_reimport_as_already_recorded(notice, tmp_path):
    path = write(tmp_path, GOOD)
    call_command("import_consent", str(path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("import_consent", str(path), stdout=out)
    assert out.getvalue().startswith("Imported 0 consent events from 4 rows (4 already recorded, 0 new subjects)")
    assert ConsentEvent.objects.count() == 4


def test_a_file_that_adds_to_an_earlier_one_imports_only_the_new_events(actor, notice, tmp_path):
    import_path(actor, write(tmp_path, GOOD))
    more = GOOD + "e5,S3,,,withdrawal,,,email,2025-05-01,\n"
    result = import_path(actor, write(tmp_path, more, name="more.csv"))
    assert (result.created, result.unchanged) == (1, 4)
    assert ledger.verify().ok


def test_it_accepts_an_exact_duplicate_row_once(actor, notice, tmp_path):
    result = import_path(actor, write(tmp_path, HEADER + ADULT + "\n" + ADULT + "\n"))
    assert (result.created, result.unchanged) == (1, 1)


def test_it_applies_the_rules_in_time_order_whatever_the_row_order(actor, notice, tmp_path):
    text = HEADER + (
        "e2,S1,DE,1980-02,withdrawal,evaluation,,email,2025-03-01,\ne1,S1,,,grant,evaluation,1,web_form,2025-02-01,\n"
    )
    assert import_path(actor, write(tmp_path, text)).created == 2
    assert ledger.verify().ok
    subject = Subject.objects.get(reference="S1")
    assert selectors.is_consent_active(subject, Purpose.EVALUATION, at(2025, 2, 15))
    assert not selectors.is_consent_active(subject, Purpose.EVALUATION, at(2025, 3, 15))


def test_a_new_subjects_facts_may_come_on_any_of_its_rows(actor, notice, tmp_path):
    text = HEADER + (
        "e2,S1,,,withdrawal,evaluation,,email,2025-03-01,\ne1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"
    )
    assert import_path(actor, write(tmp_path, text)).created == 2


def test_it_adds_events_to_a_subject_registered_before(actor, notice, subject, tmp_path):
    result = import_path(actor, write(tmp_path, one_row("e1,SUBJ-ADULT,,,grant,evaluation,1,web_form,2025-02-01,")))
    assert (result.created, result.new_subjects) == (1, 0)
    assert ConsentEvent.objects.get().subject == subject


def test_it_reads_a_utf8_file_with_a_byte_order_mark_and_windows_line_ends(actor, notice, tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert import_path(actor, path).created == 4


def test_it_imports_parquet_of_strings(actor, notice, tmp_path):
    frame = pd.read_csv(io.StringIO(GOOD), dtype=str, keep_default_na=False)
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    assert import_path(actor, path).created == 4
    assert ledger.verify().count == 4


def test_it_imports_parquet_with_typed_columns(actor, notice, tmp_path):
    frame = pd.DataFrame(
        {
            "event_id": ["p1", "p2"],
            "subject": ["S1", "S1"],
            "jurisdiction": ["DE", None],
            "birth_month": [date(1980, 2, 14), None],
            "kind": ["grant", "withdrawal"],
            "purposes": ["evaluation", ""],
            "notice_version": [1, None],
            "channel": ["api", "api"],
            "collected_at": pd.to_datetime(["2025-02-01T10:00:00Z", "2025-03-01T00:00:00Z"]),
        }
    )
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    assert import_path(actor, path).created == 2
    assert Subject.objects.get(reference="S1").birth_month == date(1980, 2, 1)
    assert ConsentEvent.objects.get(event_id="p1").collected_at == datetime(2025, 2, 1, 10, tzinfo=UTC)


@pytest.fixture
def crm_database(tmp_path):
    path = tmp_path / "crm.sqlite3"
    frame = pd.read_csv(io.StringIO(GOOD), dtype=str, keep_default_na=False)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE consents (event_id TEXT, subject TEXT, jurisdiction TEXT, birth_month TEXT, kind TEXT, "
            "purposes TEXT, notice_version TEXT, channel TEXT, collected_at TEXT, guardian TEXT, crm_note TEXT)"
        )
        connection.executemany(
            "INSERT INTO consents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'note')", frame.itertuples(index=False)
        )
    connection.close()
    return path


def test_the_command_imports_from_a_sql_query(notice, crm_database):
    out = io.StringIO()
    call_command(
        "import_consent", "--sql-url", f"sqlite:///{crm_database}", "--query",
        "SELECT event_id, subject, jurisdiction, birth_month, kind, purposes, notice_version, channel, collected_at, "
        "guardian FROM consents",
        stdout=out,
    )  # fmt: skip
    assert out.getvalue().startswith("Imported 4 consent events from 4 rows (0 already recorded, 3 new subjects)")
    batch = ImportBatch.objects.get()
    assert batch.source_name.startswith(f"sqlite:///{crm_database} :: SELECT event_id")
    assert ledger.verify().count == 4


def test_a_sql_source_is_checked_like_a_file(notice, crm_database):
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_consent", sql_url=f"sqlite:///{crm_database}", query="SELECT * FROM consents", stderr=err)
    assert err.getvalue().startswith("file: unknown column(s) crm_note")
    assert not ConsentEvent.objects.exists()


def test_the_command_refuses_a_query_that_fails_with_a_clear_error(notice, crm_database):
    with pytest.raises(CommandError):
        call_command("import_consent", sql_url=f"sqlite:///{crm_database}", query="SELECT * FROM no_such_table")
    assert not ImportBatch.objects.exists()


def test_the_command_refuses_a_query_without_rows(notice, crm_database):
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command(
            "import_consent", sql_url=f"sqlite:///{crm_database}", query="SELECT * FROM consents WHERE 0", stderr=err
        )
    assert err.getvalue() == "file: the query returned no rows\n"


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ([], {}, "give either a FILE or --sql-url with --query"),
        (["events.csv"], {"sql_url": "sqlite://"}, "give either a FILE or --sql-url with --query"),
        ([], {"sql_url": "sqlite://"}, "--sql-url needs --query"),
        (["nowhere.csv"], {}, "no file nowhere.csv"),
        (["events.csv"], {"as_user": "ghost"}, "--as-user: no user named 'ghost'"),
    ],
)
def test_the_command_explains_how_to_call_it(db, tmp_path, monkeypatch, args, options, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, GOOD)
    with pytest.raises(CommandError) as refused:
        call_command("import_consent", *args, **options)
    assert str(refused.value) == message


# Bad input: nothing is written and every problem names its row and field -----------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", readers.EMPTY_FILE),
        (b"\n\n  \n", readers.EMPTY_FILE),
        (HEADER.encode(), readers.NO_ROWS),
        (HEADER.encode() + "e1,S1,DE,1980-02,grant,évaluation,1,web_form,2025-02-01,\n".encode("latin-1"),
         readers.NOT_UTF8.format(byte=0xE9, line=2)),
        (HEADER.encode() + b"e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,,extra,cells\n",
         readers.MALFORMED.format(detail="line 2: expected 10 columns, got 12 "
                                         "(e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,,extra,cells)")),
        (HEADER.encode() + (ADULT + "\ne2,S1,DE\n").encode(),
         readers.MALFORMED.format(detail="line 3: expected 10 columns, got 3 (e2,S1,DE)")),
        (b"event_id,subject,kind,channel,collected_at,colour\ne1,S1,grant,web_form,2025-02-01,blue\n",
         common.UNKNOWN_COLUMNS.format(names="colour", expected=ALL_COLUMNS)),
        (b"event_id,subject,kind\ne1,S1,grant\n", common.MISSING_COLUMNS.format(names="channel, collected_at")),
        (b"event_id,subject,kind,kind,channel,collected_at\ne1,S1,grant,grant,web_form,2025-02-01\n",
         readers.DUPLICATE_COLUMNS.format(name="kind")),
    ],
)  # fmt: skip
def test_it_refuses_a_bad_file_as_a_whole(problems_of, tmp_path, content, expected):
    assert problems_of(write(tmp_path, content)) == [f"file: {expected}"]


def test_it_refuses_a_file_of_another_type(problems_of, tmp_path):
    assert problems_of(write(tmp_path, GOOD, name="events.txt")) == [
        "file: " + readers.UNSUPPORTED.format(suffix=".txt")
    ]


def when(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()


MINOR_REASON = guardian_requirement(country="FR", birth=date(2013, 2, 1), collected_on=date(2025, 2, 1)).explain()


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("e1,S1,DE,1980-02,withdrawal,,,web_form,2025-02-01,", "collected_at",
         rules.WITHDRAWAL_BEFORE_GRANT.format(when=when("2025-02-01"))),
        ("e1,S1,DE,1980-02,grant,evaluation,1,web_form,2099-02-01,", "collected_at",
         rules.IN_THE_FUTURE.format(when=when("2099-02-01"))),
        ("e1,S1,DE,1980-02,grant,evaluation,1,web_form,2023-06-01,", "collected_at",
         rules.BEFORE_NOTICE.format(when=when("2023-06-01"), notice="1/en", published=when("2024-01-01"))),
        ("e1,S1,DE,1980-02,grant,dancing,1,web_form,2025-02-01,", "purposes",
         UNKNOWN_PURPOSE.format(value="dancing", known=KNOWN_PURPOSES)),
        ("e1,S1,DE,1980-02,grant,publication,1,web_form,2025-02-01,", "purposes",
         rules.PURPOSE_NOT_OFFERED.format(notice="1/en", purpose="publication")),
        ("e1,S1,ZZ,1980-02,grant,evaluation,1,web_form,2025-02-01,", "jurisdiction",
         UNKNOWN_COUNTRY.format(value="ZZ")),
        ("e1,S1,FR,2013-02,grant,evaluation,1,web_form,2025-02-01,", "guardian",
         rules.GUARDIAN_REQUIRED.format(reason=MINOR_REASON)),
        ("e1,S1,DE,1980-02,grant,evaluation,9,web_form,2025-02-01,", "notice_version",
         importer.UNKNOWN_NOTICE.format(value="9")),
        ("e1,S1,DE,1980-02,grant,evaluation,,web_form,2025-02-01,", "notice_version", rules.GRANT_WITHOUT_NOTICE),
        ("e1,S1,DE,1980-02,grant,,1,web_form,2025-02-01,", "purposes", rules.GRANT_WITHOUT_PURPOSES),
        ("e1,S1,DE,1980-02,grant,evaluation,1,pigeon,2025-02-01,", "channel",
         importer.UNKNOWN_CHANNEL.format(value="pigeon")),
        ("e1,S1,DE,1980-02,grant,evaluation,1,web_form,,", "collected_at",
         importer.EMPTY_VALUE.format(field="collected_at")),
        ("e1,S1,DE,02/1980,grant,evaluation,1,web_form,2025-02-01,", "birth_month",
         importer.BAD_BIRTH_MONTH.format(value="02/1980")),
        ("e1,S1,,1980-02,grant,evaluation,1,web_form,2025-02-01,", "jurisdiction",
         importer.NEW_SUBJECT_NEEDS.format(subject="S1", field="jurisdiction")),
        ("e1,S1,DE,,grant,evaluation,1,web_form,2025-02-01,", "birth_month",
         importer.NEW_SUBJECT_NEEDS.format(subject="S1", field="birth_month")),
        (",S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,", "event_id",
         importer.EMPTY_VALUE.format(field="event_id")),
        ("e1,,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,", "subject",
         importer.EMPTY_VALUE.format(field="subject")),
        ("e1,S1,DE,1980-02,gift,evaluation,1,web_form,2025-02-01,", "kind", rules.UNKNOWN_KIND.format(value="gift")),
    ],
)  # fmt: skip
def test_it_refuses_a_bad_row_naming_its_row_and_field(problems_of, tmp_path, row, field, message):
    # The bad row comes second, after a good one, so that a partial import would show.
    text = HEADER + "e0,S0,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,\n" + row + "\n"
    assert problems_of(write(tmp_path, text)) == [str(ImportProblem(2, field, message))]


def test_it_reports_a_timestamp_it_cannot_read_once(actor, notice, tmp_path):
    problems = problems_from_service(actor, write(tmp_path, one_row(ADULT.replace("2025-02-01", "yesterday"))))
    assert problems == ["row 1, collected_at: " + common.BAD_TIME.format(value="yesterday")]


def test_it_reports_a_birth_month_in_the_future_and_nothing_that_follows_from_it(actor, notice, tmp_path):
    problems = problems_from_service(actor, write(tmp_path, one_row(ADULT.replace("1980-02", "2099-01"))))
    assert problems == ["row 1, birth_month: " + importer.FUTURE_BIRTH_MONTH.format(value="2099-01")]


def test_it_refuses_an_expiry_before_collection(problems_of, tmp_path):
    text = "event_id,subject,jurisdiction,birth_month,kind,purposes,notice_version,channel,collected_at,expires_at\n"
    text += "e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,2025-01-01\n"
    assert problems_of(write(tmp_path, text)) == [
        "row 1, expires_at: "
        + rules.EXPIRES_BEFORE_COLLECTED.format(expires=when("2025-01-01"), collected=when("2025-02-01"))
    ]


def test_it_refuses_a_guardian_on_a_withdrawal(problems_of, tmp_path):
    text = HEADER + ADULT + "\ne2,S1,,,withdrawal,,,web_form,2025-03-01,GUARD-1\n"
    assert problems_of(write(tmp_path, text)) == [f"row 2, guardian: {rules.GUARDIAN_NOT_EXPECTED}"]


def test_it_refuses_a_bad_evidence_hash(problems_of, tmp_path):
    text = "event_id,subject,jurisdiction,birth_month,kind,purposes,notice_version,channel,collected_at,evidence_hash\n"
    text += "e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,abc\n"
    assert problems_of(write(tmp_path, text)) == [
        "row 1, evidence_hash: " + rules.BAD_EVIDENCE_HASH.format(value="abc")
    ]


def test_it_refuses_a_withdrawal_dated_before_the_grant_in_the_same_file(problems_of, tmp_path):
    text = HEADER + ADULT + "\ne2,S1,,,withdrawal,,,web_form,2025-01-15,\n"
    assert problems_of(write(tmp_path, text)) == [
        "row 2, collected_at: " + rules.WITHDRAWAL_BEFORE_GRANT.format(when=when("2025-01-15"))
    ]


def test_it_refuses_duplicate_event_ids_with_different_content_in_the_file(problems_of, tmp_path):
    text = HEADER + ADULT + "\n" + "e1,S1,DE,1980-02,grant,bias_audit,1,web_form,2025-02-01,\n"
    assert problems_of(write(tmp_path, text)) == [
        "row 2, event_id: " + importer.DUPLICATE_IN_FILE.format(event_id="e1", first=1)
    ]


def test_it_refuses_a_subject_given_two_jurisdictions_in_one_file(problems_of, tmp_path):
    text = HEADER + ADULT + "\ne2,S1,FR,1980-02,grant,bias_audit,1,web_form,2025-02-02,\n"
    assert problems_of(write(tmp_path, text)) == [
        "row 2, jurisdiction: "
        + importer.SUBJECT_FACT_CONFLICT.format(field="jurisdiction", value="FR", known="DE", subject="S1")
    ]


@pytest.fixture
def imported(actor, notice, tmp_path):
    import_path(actor, write(tmp_path, GOOD, name="first.csv"))


def test_it_refuses_an_event_id_recorded_with_different_content(problems_of, imported, tmp_path):
    changed = HEADER + "e1,S1,,,grant,evaluation,1,email,2025-02-01T10:00:00Z,\n"
    assert problems_of(write(tmp_path, changed)) == [
        "row 1, event_id: " + services.EVENT_ID_CONFLICT.format(event_id="e1")
    ]


def test_it_refuses_a_subject_whose_facts_differ_from_the_record(problems_of, imported, tmp_path):
    text = HEADER + "e9,S1,FR,1980-02,grant,evaluation,1,web_form,2025-05-01,\n"
    assert problems_of(write(tmp_path, text)) == [
        "row 1, jurisdiction: "
        + importer.SUBJECT_FACT_CONFLICT.format(field="jurisdiction", value="FR", known="DE", subject="S1")
    ]


def test_it_refuses_a_withdrawal_of_a_purpose_the_subject_never_granted(problems_of, imported, tmp_path):
    text = HEADER + "e9,S3,,,withdrawal,evaluation,,web_form,2025-05-01,\n"
    assert problems_of(write(tmp_path, text)) == [
        "row 1, purposes: " + rules.PURPOSE_NEVER_GRANTED.format(purpose="evaluation", when=when("2025-05-01"))
    ]


def test_it_reports_every_problem_of_a_file_with_its_row_and_field(problems_of, tmp_path):
    text = HEADER + (
        "e1,S1,DE,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"
        "e2,S2,XX,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"
        "e3,S3,DE,1980-02,withdrawal,,,web_form,2025-02-01,\n"
        "e4,S4,DE,1980-02,grant,evaluation,1,fax,2025-02-01,\n"
        "e5,S5,FR,2013-02,grant,evaluation,1,web_form,2025-02-01,\n"
        "e6,S6,DE,1980-02,grant,marketing,1,web_form,2025-02-01,\n"
        "e7,S7,DE,1980-02,grant,evaluation,1,web_form,2099-01-01,\n"
        "e1,S1,DE,1980-02,grant,training,1,web_form,2025-02-01,\n"
    )
    problems = problems_of(write(tmp_path, text))
    assert [p.split(":")[0] for p in problems] == [
        "row 2, jurisdiction", "row 3, collected_at", "row 4, channel", "row 5, guardian", "row 6, purposes",
        "row 7, collected_at", "row 8, event_id",
    ]  # fmt: skip


def test_it_reports_every_problem_of_one_row(actor, notice, tmp_path):
    text = HEADER + "e1,S1,XX,1980-02,grant,marketing,1,fax,2099-01-01,\n"
    problems = problems_from_service(actor, write(tmp_path, text))
    assert [p.split(":")[0] for p in problems] == [
        "row 1, channel", "row 1, collected_at", "row 1, jurisdiction", "row 1, purposes",
    ]  # fmt: skip


def test_a_problem_in_one_row_keeps_every_good_row_out(actor, notice, tmp_path):
    with pytest.raises(ImportFailed):
        import_path(actor, write(tmp_path, GOOD + "e5,S9,XX,1980-02,grant,evaluation,1,web_form,2025-02-01,\n"))
    assert not Subject.objects.filter(reference__in=["S1", "S2", "S3", "S9"]).exists()
    assert not ConsentEvent.objects.exists()


# Erasure through an import ---------------------------------------------------------------------


def test_an_imported_erasure_erases_the_subjects_personal_data(actor, imported, tmp_path):
    import_path(actor, write(tmp_path, HEADER + "x1,S1,,,erasure,,,email,2025-09-01,\n"))
    erased = Subject.objects.get(key=ConsentEvent.objects.get(event_id="x1").subject.key)
    assert erased.is_erased
    assert (erased.reference, erased.jurisdiction, erased.birth_month, erased.salt) == (None, "", None, "")
    assert ledger.verify().ok


def test_the_events_of_an_erased_subject_cannot_be_imported_again(actor, imported, tmp_path):
    services.erase_subject(
        actor=actor, subject=Subject.objects.get(reference="S1"), channel="email", collected_at=at(2025, 9)
    )
    with pytest.raises(ImportFailed) as failed:
        import_path(actor, write(tmp_path, GOOD))
    assert [str(p) for p in failed.value.problems] == [
        "row 1, event_id: " + importer.ERASED_EVENT.format(event_id="e1"),
        "row 2, event_id: " + importer.ERASED_EVENT.format(event_id="e2"),
    ]
