"""The consent REST API: recording events idempotently, reading subjects, items and the ledger, per role."""

import json
from datetime import date

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from consent import ledger, services
from consent.models import ConsentEvent, DataItem, GuardianConsent, Subject
from core.models import AuditLogEntry
from tests.conftest import at

pytestmark = pytest.mark.django_db

API = "/api/v1/consent/"
FORBIDDEN = {"message": "Your role may not use this endpoint.", "field": None}
UNAUTHENTICATED = {"message": "Send a valid API token: Authorization: Bearer <token>", "field": None}


def post(client, path, body):
    return client.post(API + path, data=json.dumps(body), content_type="application/json")


def grant_body(**overrides):
    body = {
        "event_id": "kiosk-grant-1",
        "subject": "SUBJ-ADULT",
        "purposes": ["evaluation", "bias_audit"],
        "notice_version": "1",
        "notice_language": "en",
        "channel": "in_app",
        "collected_at": "2025-03-01T10:00:00Z",
    }
    return {**body, **overrides}


def withdraw_body(**overrides):
    body = {"event_id": "kiosk-withdraw-1", "subject": "SUBJ-ADULT", "purposes": ["evaluation"],
            "channel": "in_app", "collected_at": "2025-06-01T10:00:00Z"}  # fmt: skip
    return {**body, **overrides}


def erase_body(**overrides):
    body = {"event_id": "kiosk-erase-1", "subject": "SUBJ-ADULT", "channel": "email",
            "collected_at": "2025-09-01T10:00:00Z"}  # fmt: skip
    return {**body, **overrides}


@pytest.fixture
def granted(subject, notice, actor):
    """SUBJ-ADULT granted evaluation and bias_audit on 2025-03-01 (event id "first-grant")."""
    return services.grant_consent(
        actor=actor, subject=subject, purposes=["evaluation", "bias_audit"], notice=notice, channel="web_form",
        collected_at=at(2025, 3), event_id="first-grant",
    )  # fmt: skip


@pytest.fixture
def item(subject, dataset):
    return DataItem.objects.create(
        dataset=dataset, item_ref="face-0001", subject=subject, source=dataset.sources.get(name="partner"),
        kind="tabular", content_hash="ab" * 32, attributes={"skin_tone": "8", "sex": "female"},
    )  # fmt: skip


def stored_events():
    return list(ConsentEvent.objects.order_by("sequence").values_list("event_id", flat=True))


# Who may do what ---------------------------------------------------------------------------------

WRITE_ROLES = [("steward", 201), ("officer", 403), ("auditor", 403), ("nobody", 403), (None, 401)]
READ_ROLES = [("steward", 200), ("officer", 200), ("auditor", 200), ("nobody", 403), (None, 401)]


@pytest.mark.parametrize(("role", "expected"), WRITE_ROLES)
def test_only_a_steward_records_a_grant(api_as, subject, notice, role, expected):
    response = post(api_as(role), "events/grant", grant_body())
    assert response.status_code == expected
    if expected == 201:
        assert stored_events() == ["kiosk-grant-1"]
        assert response.json()["subject"] == "SUBJ-ADULT"
    else:
        assert stored_events() == []
        assert response.json() == (FORBIDDEN if expected == 403 else UNAUTHENTICATED)


@pytest.mark.parametrize(("role", "expected"), WRITE_ROLES)
def test_only_a_steward_records_a_withdrawal(api_as, granted, role, expected):
    response = post(api_as(role), "events/withdraw", withdraw_body())
    assert response.status_code == expected
    assert stored_events() == (["first-grant", "kiosk-withdraw-1"] if expected == 201 else ["first-grant"])
    if expected != 201:
        assert response.json() == (FORBIDDEN if expected == 403 else UNAUTHENTICATED)


@pytest.mark.parametrize(("role", "expected"), WRITE_ROLES)
def test_only_a_steward_erases_a_subject(api_as, granted, role, expected):
    response = post(api_as(role), "events/erase", erase_body())
    assert response.status_code == expected
    assert Subject.objects.get(pk=granted.subject_id).is_erased == (expected == 201)
    if expected != 201:
        assert response.json() == (FORBIDDEN if expected == 403 else UNAUTHENTICATED)


@pytest.mark.parametrize(("role", "expected"), READ_ROLES)
def test_steward_officer_and_auditor_read_a_subject_and_no_one_else(api_as, granted, role, expected):
    response = api_as(role).get(API + "subjects/SUBJ-ADULT")
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["events"][0]["event_id"] == "first-grant"
    else:
        assert "SUBJ-ADULT" not in response.content.decode()
        assert "first-grant" not in response.content.decode()
        assert response.json() == (FORBIDDEN if expected == 403 else UNAUTHENTICATED)


@pytest.mark.parametrize(("role", "expected"), READ_ROLES)
def test_steward_officer_and_auditor_list_data_items_and_no_one_else(api_as, item, role, expected):
    response = api_as(role).get(API + "items")
    assert response.status_code == expected
    if expected == 200:
        assert [i["item_ref"] for i in response.json()["items"]] == ["face-0001"]
    else:
        assert "face-0001" not in response.content.decode()
        assert response.json() == (FORBIDDEN if expected == 403 else UNAUTHENTICATED)


@pytest.mark.parametrize(("role", "expected"), READ_ROLES)
def test_steward_officer_and_auditor_verify_the_ledger_and_no_one_else(api_as, granted, role, expected):
    response = api_as(role).get(API + "ledger/verify")
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["ok"] is True
    else:
        assert response.json() == (FORBIDDEN if expected == 403 else UNAUTHENTICATED)


# Recording a grant and a withdrawal --------------------------------------------------------------


def test_a_steward_records_a_grant_and_gets_the_chained_event_back(api_as, subject, notice):
    response = post(api_as("steward"), "events/grant", grant_body(evidence_hash="CD" * 32))
    assert response.status_code == 201
    event = ConsentEvent.objects.get(event_id="kiosk-grant-1")
    assert response.json() == {
        "event_id": "kiosk-grant-1",
        "sequence": event.sequence,
        "kind": "grant",
        "purposes": ["bias_audit", "evaluation"],
        "subject": "SUBJ-ADULT",
        "notice": "1/en",
        "channel": "in_app",
        "collected_at": "2025-03-01T10:00:00Z",
        "expires_at": None,
        "recorded_at": DjangoJSONEncoder().default(event.recorded_at),
        "evidence_hash": "cd" * 32,
        "guardian_reference": None,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
    assert AuditLogEntry.objects.get(action="consent.grant").actor_label == "user:web-steward"
    assert ledger.verify().ok


def test_a_steward_records_a_grant_and_a_withdrawal_and_sees_the_state_change(api_as, subject, notice):
    steward = api_as("steward")
    assert post(steward, "events/grant", grant_body()).status_code == 201
    before = {s["purpose"]: s["active"] for s in steward.get(API + "subjects/SUBJ-ADULT").json()["consent"]}
    assert post(steward, "events/withdraw", withdraw_body()).status_code == 201
    after = steward.get(API + "subjects/SUBJ-ADULT").json()
    assert before == {"training": False, "evaluation": True, "bias_audit": True, "publication": False}
    assert {s["purpose"]: s["active"] for s in after["consent"]} == {
        "training": False, "evaluation": False, "bias_audit": True, "publication": False,
    }  # fmt: skip
    assert [(e["event_id"], e["kind"]) for e in after["events"]] == [
        ("kiosk-grant-1", "grant"), ("kiosk-withdraw-1", "withdrawal"),
    ]  # fmt: skip


def test_a_withdrawal_without_purposes_withdraws_every_purpose(api_as, granted):
    response = post(api_as("steward"), "events/withdraw", withdraw_body(purposes=[]))
    assert response.status_code == 201
    assert response.json()["purposes"] == ["bias_audit", "evaluation", "publication", "training"]


def test_a_grant_for_a_minor_records_the_guardian(api_as, make_subject, notice):
    make_subject("CHILD-1", jurisdiction="FR", birth_month=date(2013, 2, 1))
    response = post(api_as("steward"), "events/grant", grant_body(subject="CHILD-1", guardian_reference="GUARD-7"))
    assert response.status_code == 201
    assert response.json()["guardian_reference"] == "GUARD-7"
    assert GuardianConsent.objects.get().reference == "GUARD-7"


def test_the_channel_defaults_to_api(api_as, subject, notice):
    body = grant_body()
    del body["channel"]
    assert post(api_as("steward"), "events/grant", body).json()["channel"] == "api"


# Idempotency by the client's event id ------------------------------------------------------------


def test_repeating_a_grant_returns_the_same_event_and_stores_it_once(api_as, subject, notice):
    steward = api_as("steward")
    first = post(steward, "events/grant", grant_body())
    again = post(steward, "events/grant", grant_body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert stored_events() == ["kiosk-grant-1"]
    assert AuditLogEntry.objects.filter(action="consent.grant").count() == 1


def test_repeating_a_grant_without_a_collection_time_returns_the_first_event(api_as, subject, notice):
    steward = api_as("steward")
    body = grant_body()
    del body["collected_at"]
    first = post(steward, "events/grant", body)
    again = post(steward, "events/grant", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["sequence"] == first.json()["sequence"]
    assert stored_events() == ["kiosk-grant-1"]


def test_a_grant_whose_first_attempt_met_a_locked_database_is_stored_once_when_retried(api_as, subject, notice):
    """The lock strikes after the event is written and before its audit-log row: the whole attempt rolls back, the
    client gets 503 with Retry-After, and its retry under the same event id records the event exactly once."""
    from django.db import OperationalError, connection

    steward, written = api_as("steward"), []

    def locked_at_the_audit_log(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "core_auditlogentry"') and "consent.grant" in params and not written:
            written.append(ConsentEvent.objects.count())  # the event is in, uncommitted
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(locked_at_the_audit_log):
        first = post(steward, "events/grant", grant_body())
    assert written == [1]
    assert (first.status_code, first["Retry-After"]) == (503, "5")
    assert ConsentEvent.objects.count() == 0 and not AuditLogEntry.objects.filter(action="consent.grant").exists()
    retried, repeated = post(steward, "events/grant", grant_body()), post(steward, "events/grant", grant_body())
    assert (retried.status_code, repeated.status_code) == (201, 200)
    assert repeated.json() == retried.json()
    assert ConsentEvent.objects.count() == 1
    assert AuditLogEntry.objects.filter(action="consent.grant").count() == 1


def test_reusing_an_event_id_for_a_different_grant_is_a_conflict_naming_the_event_id(api_as, subject, notice):
    steward = api_as("steward")
    post(steward, "events/grant", grant_body())
    response = post(steward, "events/grant", grant_body(purposes=["training"]))
    assert response.status_code == 409
    assert response.json() == {
        "message": services.EVENT_ID_CONFLICT.format(event_id="kiosk-grant-1"),
        "field": "event_id",
    }
    assert stored_events() == ["kiosk-grant-1"]


def test_reusing_a_grants_event_id_for_a_withdrawal_is_a_conflict(api_as, granted):
    response = post(api_as("steward"), "events/withdraw", withdraw_body(event_id="first-grant"))
    assert response.status_code == 409
    assert response.json()["field"] == "event_id"
    assert stored_events() == ["first-grant"]


def test_repeating_a_withdrawal_returns_the_same_event(api_as, granted):
    steward = api_as("steward")
    first = post(steward, "events/withdraw", withdraw_body())
    again = post(steward, "events/withdraw", withdraw_body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert stored_events() == ["first-grant", "kiosk-withdraw-1"]


def test_repeating_an_erasure_returns_the_same_event_though_the_reference_is_gone(api_as, granted):
    steward = api_as("steward")
    first = post(steward, "events/erase", erase_body())
    again = post(steward, "events/erase", erase_body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert first.json()["subject"] is None
    assert stored_events() == ["first-grant", "kiosk-erase-1"]
    assert Subject.objects.filter(reference="SUBJ-ADULT").count() == 0
    assert ledger.verify().ok


def test_reusing_an_erasures_event_id_for_another_request_is_a_conflict(api_as, granted):
    steward = api_as("steward")
    post(steward, "events/erase", erase_body())
    response = post(steward, "events/erase", erase_body(channel="paper_form"))
    assert response.status_code == 409
    assert response.json()["field"] == "event_id"


# Bad input: the field at fault, and nothing written ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"subject": "SUBJ-NOBODY"}, "subject", "no subject with reference 'SUBJ-NOBODY'"),
        ({"notice_version": "9"}, "notice_version", "no notice '9/en' has been published"),
        ({"purposes": ["marketing"]}, "purposes", "unknown purpose 'marketing'"),
        ({"purposes": ["publication"]}, "purposes", "notice 1/en does not offer the purpose 'publication'"),
        ({"purposes": []}, "purposes", "a grant must name at least one purpose"),
        ({"channel": "carrier pigeon"}, "channel", "unknown channel 'carrier pigeon'"),
        ({"collected_at": "2025-03-01T10:00:00"}, "collected_at", "timezone"),
        ({"collected_at": "2099-01-01T00:00:00Z"}, "collected_at", "is in the future"),
        ({"collected_at": "2023-06-01T00:00:00Z"}, "collected_at", "before notice 1/en was published"),
        ({"expires_at": "2025-01-01T00:00:00Z"}, "expires_at", "not after it was collected"),
        ({"evidence_hash": "not-a-hash"}, "evidence_hash", "64 hexadecimal characters"),
        ({"event_id": ""}, "event_id", "at least 1 character"),
    ],
)
def test_a_bad_grant_names_the_field_and_writes_nothing(api_as, subject, notice, change, field, message):
    response = post(api_as("steward"), "events/grant", grant_body(**change))
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert message in response.json()["message"]
    assert stored_events() == []
    assert not AuditLogEntry.objects.filter(action__startswith="consent.").exists()


def test_a_grant_without_an_event_id_names_the_field(api_as, subject, notice):
    body = grant_body()
    del body["event_id"]
    response = post(api_as("steward"), "events/grant", body)
    assert response.status_code == 422
    assert response.json()["field"] == "event_id"
    assert stored_events() == []


def test_a_grant_for_a_minor_without_a_guardian_names_the_guardian(api_as, make_subject, notice):
    make_subject("CHILD-1", jurisdiction="FR", birth_month=date(2013, 2, 1))
    response = post(api_as("steward"), "events/grant", grant_body(subject="CHILD-1"))
    assert response.status_code == 422
    assert response.json()["field"] == "guardian"
    assert stored_events() == []


def test_a_notice_version_published_in_several_languages_asks_for_the_language(api_as, subject, notice, actor):
    services.publish_notice(
        actor=actor, version="1", language="fr", title="Consentement", text="Nous utilisons votre photo.",
        purposes=["evaluation"], published_at=at(2024, 1),
    )  # fmt: skip
    response = post(api_as("steward"), "events/grant", grant_body(notice_language=None))
    assert response.status_code == 422
    assert response.json()["field"] == "notice_language"
    assert "en, fr" in response.json()["message"]


def test_a_notice_version_in_one_language_needs_no_language(api_as, subject, notice):
    response = post(api_as("steward"), "events/grant", grant_body(notice_language=None))
    assert response.status_code == 201
    assert response.json()["notice"] == "1/en"


def test_a_withdrawal_before_any_grant_names_the_collection_time(api_as, subject):
    response = post(api_as("steward"), "events/withdraw", withdraw_body())
    assert response.status_code == 422
    assert response.json()["field"] == "collected_at"
    assert stored_events() == []


def test_a_withdrawal_for_an_unknown_subject_names_the_subject(api_as, granted):
    response = post(api_as("steward"), "events/withdraw", withdraw_body(subject="SUBJ-NOBODY"))
    assert (response.status_code, response.json()["field"]) == (422, "subject")


def test_erasing_an_unknown_subject_names_the_subject(api_as, granted):
    response = post(api_as("steward"), "events/erase", erase_body(subject="SUBJ-NOBODY"))
    assert (response.status_code, response.json()["field"]) == (422, "subject")
    assert stored_events() == ["first-grant"]


def test_an_erased_subject_takes_no_further_events(api_as, granted, notice):
    steward = api_as("steward")
    post(steward, "events/erase", erase_body())
    response = post(steward, "events/grant", grant_body(event_id="after-erasure"))
    assert (response.status_code, response.json()["field"]) == (422, "subject")


# Reading a subject --------------------------------------------------------------------------------


def test_a_subjects_state_names_the_event_that_decided_each_purpose(api_as, granted):
    body = api_as("auditor").get(API + "subjects/SUBJ-ADULT").json()
    assert body["reference"] == "SUBJ-ADULT"
    assert body["jurisdiction"] == "DE"
    evaluation = next(s for s in body["consent"] if s["purpose"] == "evaluation")
    assert evaluation == {"purpose": "evaluation", "active": True, "since": "2025-03-01T00:00:00Z",
                          "expires_at": None, "last_event_id": "first-grant"}  # fmt: skip
    [event] = body["events"]
    assert (event["sequence"], event["hash"], event["notice"]) == (granted.sequence, granted.hash, "1/en")
    assert "birth_month" not in body


def test_an_unknown_subject_is_a_404_naming_the_reference(api_as, subject):
    response = api_as("officer").get(API + "subjects/SUBJ-NOBODY")
    assert response.status_code == 404
    assert response.json() == {"message": "no subject with reference 'SUBJ-NOBODY'", "field": "reference"}


def test_reading_a_subject_writes_nothing(api_as, granted):
    before = AuditLogEntry.objects.count()
    api_as("auditor").get(API + "subjects/SUBJ-ADULT")
    assert AuditLogEntry.objects.count() == before + 1  # the token's issue only


# Data items ---------------------------------------------------------------------------------------


def test_items_carry_their_provenance(api_as, item):
    [listed] = api_as("auditor").get(API + "items").json()["items"]
    assert listed["provenance"] == {
        "source": "partner", "origin": "partner collection", "licence": "CC-BY-4.0",
        "copyright_status": "licensed", "collection_start": "2024-01-01", "collection_end": None,
    }  # fmt: skip
    assert (listed["dataset"], listed["dataset_version"], listed["subject"]) == ("faces", "2026.1", "SUBJ-ADULT")


def test_an_auditor_sees_items_without_protected_attributes_and_nothing_is_logged(api_as, item):
    [listed] = api_as("auditor").get(API + "items").json()["items"]
    assert listed["attributes"] is None
    assert not AuditLogEntry.objects.filter(action="attributes.read").exists()


@pytest.mark.parametrize("role", ["steward", "officer"])
def test_a_role_with_access_sees_protected_attributes_and_the_read_is_logged(api_as, role_user, item, role):
    response = api_as(role).get(API + "items")
    [listed] = response.json()["items"]
    assert listed["attributes"] == {"skin_tone": "8", "sex": "female"}
    entry = AuditLogEntry.objects.get(action="attributes.read")
    assert (entry.actor, entry.after) == (role_user(role), {"item_ids": [item.pk], "count": 1})


def test_only_the_page_returned_is_read_and_logged(api_as, item, make_subject, dataset):
    other = DataItem.objects.create(
        dataset=dataset, item_ref="face-0002", subject=make_subject(), source=item.source, kind="tabular",
        attributes={"skin_tone": "2", "sex": "male"},
    )  # fmt: skip
    page = api_as("steward").get(API + "items", {"page": 2, "page_size": 1}).json()
    assert page["count"] == 2
    assert [i["item_ref"] for i in page["items"]] == ["face-0002"]
    assert AuditLogEntry.objects.get(action="attributes.read").after["item_ids"] == [other.pk]


def test_items_filter_by_dataset_name_and_version(api_as, item):
    officer = api_as("officer")
    assert officer.get(API + "items", {"dataset": "faces", "version": "2026.1"}).json()["count"] == 1
    response = officer.get(API + "items", {"dataset": "faces", "version": "1999"})
    assert response.status_code == 422
    assert response.json() == {"message": "no dataset 'faces v1999'", "field": "dataset"}


def test_an_erased_subjects_items_show_as_erased_without_attributes(api_as, item):
    steward = api_as("steward")
    post(steward, "events/erase", erase_body())
    [listed] = steward.get(API + "items").json()["items"]
    assert (listed["erased"], listed["subject"], listed["attributes"]) == (True, None, {})


# The ledger ---------------------------------------------------------------------------------------


def test_the_ledger_check_counts_the_events_and_reports_the_chain_intact(api_as, granted):
    body = api_as("auditor").get(API + "ledger/verify").json()
    assert body == {"ok": True, "count": 1, "broken_sequence": None, "broken_event_id": "",
                    "reasons": [], "summary": "OK: 1 consent events, chain intact"}  # fmt: skip
