import hashlib
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from consent import ledger, services
from consent.errors import RuleViolation
from consent.features import absolute_path
from consent.importing.consent_events import import_consent_events
from consent.models import ConsentEvent, DataItem, FeatureFile, GuardianConsent, LedgerHead, Notice, Subject
from consent.rules import events as rules
from consent.rules.age_of_consent import guardian_requirement
from consent.rules.countries import UNKNOWN_COUNTRY
from consent.rules.purposes import UNKNOWN_PURPOSE, Purpose
from core import audit_log
from core.models import AuditLogEntry
from tests.conftest import MONK_SCHEMA, at
from tests.consent.conftest import image_row, item_row

KNOWN_PURPOSES = "training, evaluation, bias_audit, publication"


def ledger_head():
    head = LedgerHead.objects.get(pk=1)
    return head.sequence, head.hash


def audit_text(entry) -> str:
    return f"{entry.object_id} {entry.before} {entry.after}"


@pytest.fixture
def failing_audit(monkeypatch):
    """The audit log writes its entry, then the service fails: nothing of either may remain."""
    real_record = audit_log.record

    def record_then_fail(**kwargs):
        real_record(**kwargs)
        raise RuntimeError("the audit store went away")

    monkeypatch.setattr(audit_log, "record", record_then_fail)


# Notices -------------------------------------------------------------------------------------


def test_it_publishes_a_notice_with_the_hash_of_its_text(actor, new_audit_entries):
    written = new_audit_entries()
    notice = services.publish_notice(
        actor=actor, version="2", language="fr", title="Consentement", text="Texte", purposes=["bias_audit", "training"],
        published_at=at(2025, 1),
    )  # fmt: skip
    assert notice.purposes == ["training", "bias_audit"]
    assert notice.label == "2/fr"
    assert notice.text_hash == hashlib.sha256(b"Texte").hexdigest()
    assert [(e.action, e.object_id) for e in written()] == [("notice.publish", str(notice.pk))]


def test_it_refuses_a_notice_with_an_unknown_purpose(actor, db):
    with pytest.raises(RuleViolation) as refused:
        services.publish_notice(actor=actor, version="2", language="en", title="t", text="x", purposes=["ads"])
    assert refused.value.problems == [("purposes", UNKNOWN_PURPOSE.format(value="ads", known=KNOWN_PURPOSES))]
    assert not Notice.objects.exists()


def test_it_refuses_a_second_notice_of_the_same_version_and_language(actor, notice):
    with pytest.raises(RuleViolation) as refused:
        services.publish_notice(actor=actor, version="1", language="en", title="t", text="x", purposes=["training"])
    assert refused.value.problems == [("version", "notice 1/en already exists; publish a new version")]


def test_it_refuses_a_notice_without_text_or_purposes(actor, db):
    with pytest.raises(RuleViolation, match="the notice text is empty"):
        services.publish_notice(actor=actor, version="2", language="en", title="t", text="  ", purposes=["training"])
    with pytest.raises(RuleViolation, match="at least one purpose"):
        services.publish_notice(actor=actor, version="2", language="en", title="t", text="x", purposes=[])


# Subjects ------------------------------------------------------------------------------------


def test_it_registers_a_subject_keeping_only_the_birth_month(actor, db, new_audit_entries):
    written = new_audit_entries()
    subject = services.register_subject(
        actor=actor, reference=" S-9 ", jurisdiction=" fr ", birth_month=date(1990, 7, 19)
    )
    assert (subject.reference, subject.jurisdiction, subject.birth_month) == ("S-9", "FR", date(1990, 7, 1))
    assert len(subject.salt) == 32
    [entry] = written()
    assert entry.action == "subject.register"
    assert entry.after == {"key": str(subject.key), "erased": False}


def test_it_refuses_a_subject_from_an_unknown_country(actor, db):
    with pytest.raises(RuleViolation) as refused:
        services.register_subject(actor=actor, reference="S", jurisdiction="XX", birth_month=date(1990, 1, 1))
    assert refused.value.problems == [("jurisdiction", UNKNOWN_COUNTRY.format(value="XX"))]
    assert not Subject.objects.exists()


def test_it_refuses_a_subject_born_in_the_future(actor, db):
    with pytest.raises(RuleViolation, match="in the future"):
        services.register_subject(
            actor=actor, reference="S", jurisdiction="DE", birth_month=timezone.now().date() + timedelta(days=40)
        )


def test_it_refuses_a_reference_twice(actor, subject):
    with pytest.raises(RuleViolation, match="subject 'SUBJ-ADULT' already exists"):
        services.register_subject(actor=actor, reference="SUBJ-ADULT", jurisdiction="DE", birth_month=date(1990, 1, 1))


# Grants --------------------------------------------------------------------------------------


def test_it_records_a_grant_with_everything_the_issue_asks_for(grant, subject, notice):
    event = grant(
        subject, purposes=["bias_audit", "evaluation"], channel="paper_form", expires_at=at(2027, 1),
        evidence_hash="A" * 64,
    )  # fmt: skip
    event = ConsentEvent.objects.get(pk=event.pk)
    assert (event.kind, event.notice, event.channel) == ("grant", notice, "paper_form")
    assert event.purpose_list == [Purpose.EVALUATION, Purpose.BIAS_AUDIT]
    assert sorted(event.purposes) == ["bias_audit", "evaluation"]
    assert (event.collected_at, event.expires_at) == (at(2025, 3), at(2027, 1))
    assert event.evidence_hash == "a" * 64
    assert event.age_rule_version == "eu-2024.1"
    assert event.recorded_at is not None


def test_a_grant_writes_one_audit_entry_without_personal_data(grant, subject, new_audit_entries):
    written = new_audit_entries()
    event = grant(subject)
    [entry] = written()
    assert (entry.action, entry.object_type, entry.object_id) == ("consent.grant", "consent_event", str(event.pk))
    assert entry.actor_label == "test"
    assert entry.after["subject"] == str(subject.key)
    assert entry.after["hash"] == event.hash
    assert "SUBJ-ADULT" not in audit_text(entry)


def test_it_refuses_a_grant_for_a_minor_without_a_guardian(grant, make_subject, new_audit_entries):
    child = make_subject("CHILD", jurisdiction="FR", birth_month=date(2013, 2, 1))
    head, written = ledger_head(), new_audit_entries()
    with pytest.raises(RuleViolation) as refused:
        grant(child)
    reason = guardian_requirement(country="FR", birth=date(2013, 2, 1), collected_on=date(2025, 3, 1)).explain()
    assert refused.value.problems == [("guardian", rules.GUARDIAN_REQUIRED.format(reason=reason))]
    assert "below the age of digital consent of 15 in FR (table eu-2024.1" in str(refused.value)
    assert not ConsentEvent.objects.exists()
    assert ledger_head() == head
    assert written() == []


def test_a_belgian_thirteen_year_old_needs_no_guardian_but_a_french_one_does(grant, make_subject):
    born = date(2011, 6, 1)  # 13 in March 2025
    assert grant(make_subject("BE-13", jurisdiction="BE", birth_month=born)).age_rule_version == "eu-2024.1"
    with pytest.raises(RuleViolation, match="15 in FR"):
        grant(make_subject("FR-13", jurisdiction="FR", birth_month=born))


def test_it_records_the_guardian_of_a_minor_and_the_age_table_used(grant, make_subject, new_audit_entries):
    child = make_subject("CHILD", jurisdiction="FR", birth_month=date(2013, 2, 1))
    written = new_audit_entries()
    event = grant(child, guardian_reference=" GUARD-7 ")
    assert GuardianConsent.objects.get(event=event).reference == "GUARD-7"
    assert event.age_rule_version == "eu-2024.1"
    assert ledger.verify().ok
    assert all("GUARD-7" not in audit_text(entry) for entry in written())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"collected_at": at(2023, 6)}, "collected_at"),
        ({"collected_at": at(2099, 1)}, "collected_at"),
        ({"purposes": ["publication"]}, "purposes"),
        ({"purposes": ["dancing"]}, "purposes"),
        ({"channel": "fax"}, "channel"),
        ({"expires_at": at(2025, 2)}, "expires_at"),
        ({"evidence_hash": "not-a-hash"}, "evidence_hash"),
    ],
)
def test_it_refuses_a_bad_grant_and_writes_nothing(grant, subject, new_audit_entries, overrides, field):
    head, written = ledger_head(), new_audit_entries()
    with pytest.raises(RuleViolation) as refused:
        grant(subject, **overrides)
    assert [f for f, _ in refused.value.problems] == [field]
    assert not ConsentEvent.objects.exists()
    assert (ledger_head(), written()) == (head, [])


def test_it_names_the_unknown_channel(grant, subject):
    with pytest.raises(RuleViolation) as refused:
        grant(subject, channel="fax")
    assert refused.value.problems == [
        ("channel", "unknown channel 'fax'; use one of web_form, in_app, paper_form, email, api")
    ]


# Idempotency ---------------------------------------------------------------------------------


def test_a_repeated_grant_with_the_same_event_id_returns_the_first(grant, subject, new_audit_entries):
    first = grant(subject, event_id="client-1", expires_at=at(2027, 1), evidence_hash="b" * 64)
    written = new_audit_entries()
    again = grant(subject, event_id="client-1", expires_at=at(2027, 1), evidence_hash="B" * 64)
    assert again.pk == first.pk
    assert ConsentEvent.objects.count() == 1
    assert written() == []


def test_a_retried_grant_without_a_collection_time_returns_the_first(grant, subject):
    first = grant(subject, event_id="client-1", collected_at=None)
    again = grant(subject, event_id="client-1", collected_at=None)
    assert again.pk == first.pk
    assert ConsentEvent.objects.count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"purposes": ["bias_audit"]},
        {"channel": "email"},
        {"collected_at": at(2025, 4)},
        {"expires_at": at(2027, 1)},
        {"evidence_hash": "c" * 64},
    ],
)
def test_the_same_event_id_with_other_content_is_refused_naming_the_event_id(grant, subject, changed):
    grant(subject, event_id="client-1")
    with pytest.raises(RuleViolation) as refused:
        grant(subject, event_id="client-1", **changed)
    assert refused.value.problems == [("event_id", services.EVENT_ID_CONFLICT.format(event_id="client-1"))]
    assert str(refused.value) == "event_id: event id 'client-1' is already recorded with different content"
    assert ConsentEvent.objects.count() == 1


@pytest.fixture
def event_id_seen_late(monkeypatch):
    """event_id_seen_late(): from now on the check for a recorded event id misses once, as when a concurrent
    request (for another subject, so under another lock on PostgreSQL) records the same id between this
    request's check and its insert."""
    real = services._event_with_id

    def arm():
        calls = []

        def late(event_id):
            calls.append(event_id)
            return None if len(calls) == 1 else real(event_id)

        monkeypatch.setattr(services, "_event_with_id", late)
        return calls

    return arm


def test_an_event_id_a_concurrent_request_recorded_first_is_a_conflict_not_a_crash(
    grant, subject, make_subject, event_id_seen_late
):
    other = make_subject("SUBJ-OTHER")
    grant(other, event_id="client-1")
    checks = event_id_seen_late()
    with pytest.raises(RuleViolation) as refused:
        grant(subject, event_id="client-1")
    assert refused.value.problems == [("event_id", services.EVENT_ID_CONFLICT.format(event_id="client-1"))]
    assert len(checks) == 3  # missed, the insert refused, found, checked again
    assert ConsentEvent.objects.filter(event_id="client-1").get().subject == other
    assert ledger.verify().ok


def test_the_same_request_recorded_first_by_a_concurrent_retry_is_a_replay(grant, subject, event_id_seen_late):
    first = grant(subject, event_id="client-1")
    event_id_seen_late()
    again = grant(subject, event_id="client-1")
    assert again.pk == first.pk and again.replayed
    assert ConsentEvent.objects.count() == 1


def test_the_same_event_id_for_another_subject_is_refused(grant, subject, make_subject):
    grant(subject, event_id="client-1")
    with pytest.raises(RuleViolation) as refused:
        grant(make_subject("OTHER"), event_id="client-1")
    assert refused.value.problems == [("event_id", services.EVENT_ID_CONFLICT.format(event_id="client-1"))]


def test_the_same_event_id_for_another_kind_is_refused(grant, withdraw, subject):
    grant(subject, event_id="client-1")
    with pytest.raises(RuleViolation, match="event id 'client-1' is already recorded"):
        withdraw(subject, event_id="client-1")


def test_a_full_withdrawal_reusing_the_event_id_of_a_partial_one_is_refused(grant, withdraw, subject):
    # Answering "done" would tell the subject that every purpose was withdrawn when only one was.
    grant(subject, purposes=["evaluation", "bias_audit"])
    withdraw(subject, purposes=["bias_audit"], event_id="w-1")
    with pytest.raises(RuleViolation) as refused:
        withdraw(subject, event_id="w-1")
    assert refused.value.problems == [("event_id", services.EVENT_ID_CONFLICT.format(event_id="w-1"))]


def test_a_repeated_full_withdrawal_returns_the_first(grant, withdraw, subject):
    grant(subject)
    first = withdraw(subject, event_id="w-1")
    assert withdraw(subject, event_id="w-1").pk == first.pk


# Withdrawals ---------------------------------------------------------------------------------


def test_a_withdrawal_is_a_new_chained_event_and_the_grant_is_untouched(grant, withdraw, subject, new_audit_entries):
    granted = grant(subject, purposes=["evaluation", "bias_audit"])
    written = new_audit_entries()
    withdrawn = withdraw(subject, purposes=["bias_audit"], channel="in_app")
    assert (withdrawn.kind, withdrawn.purposes) == ("withdrawal", ["bias_audit"])
    assert withdrawn.sequence == granted.sequence + 1
    assert withdrawn.prev_hash == granted.hash
    assert sorted(ConsentEvent.objects.get(pk=granted.pk).purposes) == ["bias_audit", "evaluation"]
    assert [e.action for e in written()] == ["consent.withdrawal"]


def test_a_withdrawal_without_purposes_withdraws_them_all(grant, withdraw, subject):
    grant(subject)
    withdrawn = withdraw(subject)
    assert withdrawn.purpose_list == list(Purpose)


def test_it_refuses_a_withdrawal_before_any_grant(withdraw, subject):
    with pytest.raises(RuleViolation) as refused:
        withdraw(subject)
    assert refused.value.problems == [
        ("collected_at", rules.WITHDRAWAL_BEFORE_GRANT.format(when="2025-06-01T00:00:00+00:00"))
    ]


def test_it_refuses_withdrawing_a_purpose_that_was_never_granted(grant, withdraw, subject):
    grant(subject)
    with pytest.raises(RuleViolation) as refused:
        withdraw(subject, purposes=["training"])
    assert refused.value.problems == [
        ("purposes", rules.PURPOSE_NEVER_GRANTED.format(purpose="training", when="2025-06-01T00:00:00+00:00"))
    ]


# The audit log -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "action"),
    [
        (lambda s: services.publish_notice(actor=s["actor"], version="9", language="en", title="t", text="x",
                                           purposes=["training"]), "notice.publish"),
        (lambda s: services.register_subject(actor=s["actor"], reference="NEW", jurisdiction="DE",
                                             birth_month=date(1990, 1, 1)), "subject.register"),
        (lambda s: s["grant"](s["subject"]), "consent.grant"),
        (lambda s: s["withdraw"](s["granted"]), "consent.withdrawal"),
        (lambda s: services.register_attribute_schema(actor=s["actor"], name="x", version="1",
                                                      definition=MONK_SCHEMA), "attribute_schema.register"),
        (lambda s: services.add_source(actor=s["actor"], dataset=s["dataset"], name="new", origin="o",
                                       licence="MIT", copyright_status="licensed",
                                       collection_start=date(2024, 1, 1)), "source.add"),
        (lambda s: services.register_dataset(actor=s["actor"], name="d", version="1",
                                             attribute_schema=s["dataset"].attribute_schema, motivation="m",
                                             collection_process="c", known_limitations="k"), "dataset.register"),
    ],
)  # fmt: skip
def test_every_service_writes_exactly_one_audit_entry_with_its_action(
    actor, grant, withdraw, subject, make_subject, dataset, new_audit_entries, call, action
):
    granted = make_subject("GRANTED")
    grant(granted)
    written = new_audit_entries()
    call(dict(actor=actor, grant=grant, withdraw=withdraw, subject=subject, granted=granted, dataset=dataset))
    assert [entry.action for entry in written()] == [action]


def test_an_erasure_writes_its_ledger_entry_and_its_erasure_entry(grant, erase, subject, new_audit_entries):
    grant(subject)
    written = new_audit_entries()
    event = erase(subject)
    entries = written()
    assert [(e.action, e.object_id) for e in entries] == [
        ("consent.erasure", str(event.pk)),
        ("subject.erase", str(subject.pk)),
    ]
    assert entries[1].after == {"key": str(subject.key), "erased": True}


def test_a_grant_and_its_audit_entry_are_written_in_one_transaction(grant, subject, failing_audit):
    with pytest.raises(RuntimeError):
        grant(subject, event_id="g")
    assert not ConsentEvent.objects.exists()
    assert not AuditLogEntry.objects.filter(action__startswith="consent.").exists()
    assert ledger_head() == (0, ledger.chain.GENESIS_HASH)


@pytest.fixture
def granted_then_failing_audit(grant, subject, request):
    grant(subject)
    request.getfixturevalue("failing_audit")
    return subject


def test_a_withdrawal_or_erasure_whose_audit_entry_fails_leaves_nothing(
    withdraw, erase, granted_then_failing_audit, new_audit_entries
):
    subject = granted_then_failing_audit
    head, written = ledger_head(), new_audit_entries()
    for call in (withdraw, erase):
        with pytest.raises(RuntimeError):
            call(subject)
    assert ConsentEvent.objects.count() == 1
    assert (ledger_head(), written()) == (head, [])
    subject.refresh_from_db()
    assert subject.reference == "SUBJ-ADULT" and not subject.is_erased


def test_the_audit_log_never_holds_a_subjects_or_guardians_reference(
    actor, grant, withdraw, erase, make_subject, dataset, images, import_item_rows, django_capture_on_commit_callbacks
):
    adult = make_subject("SUBJ-ADULT-REF")
    child = make_subject("SUBJ-CHILD-REF", jurisdiction="FR", birth_month=date(2013, 2, 1))
    grant(adult, purposes=["evaluation", "bias_audit"])
    grant(child, guardian_reference="GUARDIAN-REF")
    withdraw(adult, purposes=["bias_audit"])
    import_consent_events(
        actor=actor,
        frame=pd.DataFrame([{"event_id": "imp-1", "subject": "SUBJ-IMPORTED-REF", "jurisdiction": "DE",
                             "birth_month": "1990-01", "kind": "grant", "purposes": "evaluation",
                             "notice_version": "1", "channel": "web_form", "collected_at": "2025-02-01"}]),
        source_name="events.csv", source_sha256="",
    )  # fmt: skip
    import_item_rows([item_row("SUBJ-CHILD-REF"), image_row("SUBJ-CHILD-REF", "i1", "a.png")])
    with django_capture_on_commit_callbacks(execute=True):
        erase(child)
    texts = [audit_text(entry) for entry in AuditLogEntry.objects.all()]
    assert len(texts) >= 10
    for reference in ("SUBJ-ADULT-REF", "SUBJ-CHILD-REF", "GUARDIAN-REF", "SUBJ-IMPORTED-REF"):
        assert [text for text in texts if reference in text] == []


# Erasure -------------------------------------------------------------------------------------


@pytest.fixture
def child_with_items(grant, make_subject, import_item_rows):
    child = make_subject("CHILD", jurisdiction="FR", birth_month=date(2013, 2, 1))
    grant(child, guardian_reference="GUARD-7", purposes=["evaluation", "bias_audit"])
    import_item_rows([item_row("CHILD"), image_row("CHILD", "i1", "a.png", skin_tone="9")])
    return child


def test_erasure_clears_the_subjects_personal_data(child_with_items, erase):
    event = erase(child_with_items)
    child = Subject.objects.get(pk=child_with_items.pk)
    assert (child.reference, child.jurisdiction, child.birth_month, child.salt) == (None, "", None, "")
    assert child.is_erased
    assert str(child) == f"erased subject {child.key}"
    assert (event.kind, event.purpose_list) == ("erasure", list(Purpose))


def test_erasure_deletes_the_guardians_consent(child_with_items, erase):
    assert GuardianConsent.objects.count() == 1
    erase(child_with_items)
    assert not GuardianConsent.objects.exists()


def test_erasure_clears_the_items_and_removes_their_files(
    child_with_items, erase, settings, django_capture_on_commit_callbacks
):
    image = Path(settings.MEDIA_ROOT) / DataItem.objects.get(item_ref="i1").image.name
    old_features = absolute_path(DataItem.objects.get(item_ref="t1").feature_file)
    assert image.exists() and old_features.exists()
    with django_capture_on_commit_callbacks(execute=True):
        erase(child_with_items)
    assert not image.exists()
    assert not old_features.exists()
    for item in DataItem.objects.all():
        assert item.erased_at is not None
        assert (item.attributes, item.content_hash, item.image.name) == ({}, "", "")
    feature_file = FeatureFile.objects.get()
    rewritten = pq.read_table(absolute_path(feature_file))
    assert rewritten.num_rows == 0 == feature_file.row_count
    assert feature_file.sha256 == ledger.chain.sha256_hex(absolute_path(feature_file).read_bytes())


def test_erasure_keeps_the_ledger_verifiable(child_with_items, erase, withdraw, grant, subject):
    grant(subject)
    withdraw(child_with_items, purposes=["bias_audit"])
    erase(child_with_items)
    grant(subject, purposes=["training"], collected_at=at(2025, 10))
    check = ledger.verify()
    assert check.ok, check.summary()
    assert check.count == 5


def test_erasure_rewrites_a_shared_feature_file_without_only_that_subjects_row(
    erase, make_subject, import_item_rows, django_capture_on_commit_callbacks
):
    first = make_subject("A")
    make_subject("B")
    import_item_rows([item_row("A"), item_row("B", item_ref="t2", feature_x="2.5")])
    with django_capture_on_commit_callbacks(execute=True):
        erase(first)
    kept = DataItem.objects.get(item_ref="t2")
    table = pq.read_table(absolute_path(kept.feature_file))
    assert table.column("item_id").to_pylist() == [kept.pk]
    assert table.column("feature_x").to_pylist() == [2.5]
    assert kept.erased_at is None and kept.attributes == {"skin_tone": "4", "sex": "male"}


def test_erasure_keeps_an_image_file_that_another_subjects_item_shares(
    erase, make_subject, import_item_rows, django_capture_on_commit_callbacks
):
    make_subject("A")
    make_subject("B")
    import_item_rows([image_row("A", "i1", "a.png"), image_row("B", "i2", "a.png")])
    shared = Path(DataItem.objects.get(item_ref="i2").image.path)
    assert DataItem.objects.get(item_ref="i1").image.name == DataItem.objects.get(item_ref="i2").image.name
    with django_capture_on_commit_callbacks(execute=True):
        erase(Subject.objects.get(reference="A"))
    assert shared.exists()
    assert DataItem.objects.get(item_ref="i1").image.name == ""


def test_a_failed_erasure_keeps_every_file_and_leaves_no_new_one(
    child_with_items, erase, settings, monkeypatch, django_capture_on_commit_callbacks
):
    def files():
        return sorted(p for root in (settings.MEDIA_ROOT, settings.ARTIFACT_ROOT) for p in Path(root).rglob("*.*"))

    before = files()
    real_record = audit_log.record

    def fail_on_erasure(**kwargs):
        real_record(**kwargs)
        if kwargs["action"] == "subject.erase":
            raise RuntimeError("the audit store went away")

    monkeypatch.setattr(audit_log, "record", fail_on_erasure)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        erase(child_with_items)
    assert files() == before
    assert Subject.objects.get(pk=child_with_items.pk).reference == "CHILD"
    assert GuardianConsent.objects.count() == 1
    assert not DataItem.objects.filter(erased_at__isnull=False).exists()


def test_a_repeated_erasure_request_returns_the_first_erasure(erase, subject, new_audit_entries):
    first = erase(subject, event_id="erase-1")
    written = new_audit_entries()
    again = erase(Subject.objects.get(pk=subject.pk), event_id="erase-1")
    assert again.pk == first.pk
    assert written() == []


def test_a_subject_without_any_event_can_be_erased(erase, subject):
    erase(subject)
    assert Subject.objects.get(pk=subject.pk).is_erased


def test_nothing_can_be_recorded_after_erasure(grant, withdraw, erase, subject):
    grant(subject)
    erase(subject)
    erased = Subject.objects.get(pk=subject.pk)
    for call in (lambda: grant(erased, collected_at=at(2025, 10)), lambda: withdraw(erased, collected_at=at(2025, 10))):
        with pytest.raises(RuleViolation) as refused:
            call()
        assert refused.value.problems == [("subject", rules.SUBJECT_ERASED)]


# Provenance ----------------------------------------------------------------------------------


def test_it_records_a_source_with_a_normalised_licence(actor, dataset, new_audit_entries):
    written = new_audit_entries()
    source = services.add_source(
        actor=actor, dataset=dataset, name="x", origin="web", licence="cc-by-4.0", copyright_status="licensed",
        collection_start=date(2024, 1, 1), collection_end=date(2024, 6, 1),
    )  # fmt: skip
    assert source.licence == "CC-BY-4.0"
    assert [e.action for e in written()] == ["source.add"]


def test_it_refuses_a_source_reporting_every_problem(actor, dataset):
    with pytest.raises(RuleViolation) as refused:
        services.add_source(
            actor=actor, dataset=dataset, name="x", origin=" ", licence="Free-ish", copyright_status="mine",
            collection_start=date(2024, 6, 1), collection_end=date(2024, 1, 1),
        )  # fmt: skip
    assert [field for field, _ in refused.value.problems] == ["licence", "copyright_status", "collection_end", "origin"]
    assert not dataset.sources.filter(name="x").exists()


def test_it_refuses_an_attribute_schema_with_a_broken_banding(actor, db):
    with pytest.raises(RuleViolation) as refused:
        services.register_attribute_schema(
            actor=actor, name="x", version="1",
            definition={"sex": {"values": ["a", "b"], "bandings": {"b": {"x": ["a"], "y": ["a"]}}}},
        )  # fmt: skip
    assert [field for field, _ in refused.value.problems] == ["definition"]
    assert "in several bands ['a']" in refused.value.problems[0][1]


def test_it_refuses_a_dataset_without_its_datasheet(actor, dataset):
    with pytest.raises(RuleViolation) as refused:
        services.register_dataset(
            actor=actor, name="d", version="1", attribute_schema=dataset.attribute_schema, motivation="",
            collection_process=" ", known_limitations="ok",
        )  # fmt: skip
    assert refused.value.problems == [
        ("motivation", "the datasheet needs this field"),
        ("collection_process", "the datasheet needs this field"),
    ]
