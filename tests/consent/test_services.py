from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from consent import ledger, services
from consent.errors import RuleViolation
from consent.features import absolute_path
from consent.importing.items import import_items
from consent.models import ConsentEvent, DataItem, GuardianConsent, Subject
from core.models import AuditLogEntry
from tests.conftest import at


def grant(actor, subject, notice, **overrides):
    values = dict(purposes=["evaluation"], notice=notice, channel="web_form", collected_at=at(2025, 3))
    return services.grant_consent(actor=actor, subject=subject, **{**values, **overrides})


def test_it_records_a_grant_with_one_audit_entry(actor, subject, notice):
    before = AuditLogEntry.objects.count()
    event = grant(actor, subject, notice, evidence_hash="A" * 64)
    assert event.kind == "grant"
    assert event.purposes == ["evaluation"]
    assert event.evidence_hash == "a" * 64
    assert event.age_rule_version == "eu-2024.1"
    entries = AuditLogEntry.objects.all()[: AuditLogEntry.objects.count() - before]
    assert [e.action for e in entries] == ["consent.grant"]


def test_the_audit_log_never_holds_the_subject_reference(actor, subject, notice):
    grant(actor, subject, notice)
    services.withdraw_consent(actor=actor, subject=subject, channel="email", collected_at=at(2025, 4))
    for entry in AuditLogEntry.objects.all():
        assert "SUBJ-ADULT" not in str(entry.before) + str(entry.after)


def test_it_refuses_a_grant_for_a_minor_without_a_guardian(actor, make_subject, notice):
    child = make_subject("CHILD", jurisdiction="FR", birth_month=date(2013, 2, 1))
    with pytest.raises(RuleViolation) as refused:
        grant(actor, child, notice)
    assert refused.value.problems[0][0] == "guardian"
    assert "below the age of digital consent of 15 in FR" in str(refused.value)
    assert not ConsentEvent.objects.exists()


def test_it_records_the_guardian_of_a_minor(actor, make_subject, notice):
    child = make_subject("CHILD", jurisdiction="FR", birth_month=date(2013, 2, 1))
    event = grant(actor, child, notice, guardian_reference="GUARD-7")
    assert event.guardian.reference == "GUARD-7"
    assert ledger.verify().ok


def test_a_repeated_grant_with_the_same_event_id_returns_the_first(actor, subject, notice):
    first = grant(actor, subject, notice, event_id="client-1")
    again = grant(actor, subject, notice, event_id="client-1")
    assert again.pk == first.pk
    assert ConsentEvent.objects.count() == 1


def test_the_same_event_id_with_other_content_is_refused(actor, subject, notice):
    grant(actor, subject, notice, event_id="client-1")
    with pytest.raises(RuleViolation) as refused:
        grant(actor, subject, notice, event_id="client-1", purposes=["bias_audit"])
    assert refused.value.problems[0][0] == "event_id"


def test_a_withdrawal_is_a_new_event(actor, subject, notice):
    granted = grant(actor, subject, notice, purposes=["evaluation", "bias_audit"])
    withdrawn = services.withdraw_consent(
        actor=actor, subject=subject, channel="in_app", purposes=["bias_audit"], collected_at=at(2025, 5)
    )
    assert withdrawn.sequence == granted.sequence + 1
    assert withdrawn.prev_hash == granted.hash
    assert set(ConsentEvent.objects.get(pk=granted.pk).purposes) == {"evaluation", "bias_audit"}


def test_it_refuses_an_unknown_channel(actor, subject, notice):
    with pytest.raises(RuleViolation, match="unknown channel 'fax'"):
        grant(actor, subject, notice, channel="fax")


def items_with_files(actor, dataset, subject, tmp_path, *, other=None):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (16, 16), (120, 80, 60)).save(images / "face.png")
    import pandas as pd

    rows = [
        {"item_ref": "t1", "subject": subject.reference, "source": "studio", "kind": "tabular", "skin_tone": "3",
         "sex": "female", "feature_a": "1.5", "image_path": ""},
        {"item_ref": "i1", "subject": subject.reference, "source": "partner", "kind": "image", "skin_tone": "9",
         "sex": "female", "feature_a": "", "image_path": "face.png"},
    ]  # fmt: skip
    if other is not None:
        rows.append(
            {
                "item_ref": "t2",
                "subject": other.reference,
                "source": "studio",
                "kind": "tabular",
                "skin_tone": "5",
                "sex": "male",
                "feature_a": "2.5",
                "image_path": "",
            }  # fmt: skip
        )
        rows.append(
            {
                "item_ref": "i2",
                "subject": other.reference,
                "source": "studio",
                "kind": "image",
                "skin_tone": "5",
                "sex": "male",
                "feature_a": "",
                "image_path": "face.png",
            }  # fmt: skip
        )
    frame = pd.DataFrame(rows)
    import_items(actor=actor, dataset=dataset, frame=frame, source_name="t", source_sha256="", files_dir=images)


def test_erasure_removes_personal_data_and_files_and_keeps_the_chain(
    actor, make_subject, notice, dataset, tmp_path, settings, django_capture_on_commit_callbacks
):
    child = make_subject("CHILD", jurisdiction="FR", birth_month=date(2013, 2, 1))
    grant(actor, child, notice, guardian_reference="GUARD-7")
    items_with_files(actor, dataset, child, tmp_path)
    image = Path(settings.MEDIA_ROOT) / DataItem.objects.get(item_ref="i1").image.name
    assert image.exists()
    old_feature_file = absolute_path(DataItem.objects.get(item_ref="t1").feature_file)

    with django_capture_on_commit_callbacks(execute=True):
        services.erase_subject(actor=actor, subject=child, channel="email", collected_at=at(2025, 6))

    child = Subject.objects.get(pk=child.pk)
    assert (child.reference, child.jurisdiction, child.birth_month, child.salt) == (None, "", None, "")
    assert child.is_erased
    assert not GuardianConsent.objects.exists()
    assert not image.exists()
    for item in DataItem.objects.all():
        assert item.erased_at is not None
        assert item.attributes == {} and item.content_hash == "" and not item.image
    feature_file = DataItem.objects.get(item_ref="t1").feature_file
    assert pq.read_table(absolute_path(feature_file)).num_rows == 0
    assert not old_feature_file.exists()
    check = ledger.verify()
    assert check.ok, check.summary()
    assert check.count == 2
    assert AuditLogEntry.objects.filter(action="subject.erase").count() == 1


def test_erasure_keeps_an_image_file_that_another_subject_shares(
    actor, make_subject, notice, dataset, tmp_path, django_capture_on_commit_callbacks
):
    first, second = make_subject("A"), make_subject("B")
    grant(actor, first, notice)
    items_with_files(actor, dataset, first, tmp_path, other=second)
    shared = Path(DataItem.objects.get(item_ref="i2").image.path)
    with django_capture_on_commit_callbacks(execute=True):
        services.erase_subject(actor=actor, subject=first, channel="email", collected_at=at(2025, 6))
    assert shared.exists()
    remaining = DataItem.objects.get(item_ref="t2").feature_file
    assert pq.read_table(absolute_path(remaining)).column("item_id").to_pylist() == [
        DataItem.objects.get(item_ref="t2").pk
    ]


def test_nothing_can_be_recorded_after_erasure(actor, subject, notice):
    grant(actor, subject, notice)
    services.erase_subject(actor=actor, subject=subject, channel="email", collected_at=at(2025, 6))
    with pytest.raises(RuleViolation, match="erased"):
        grant(actor, Subject.objects.get(pk=subject.pk), notice, collected_at=at(2025, 7))


def test_it_refuses_a_source_with_an_unknown_licence(actor, dataset):
    with pytest.raises(RuleViolation) as refused:
        services.add_source(
            actor=actor, dataset=dataset, name="x", origin="web", licence="Free-ish", copyright_status="unknown",
            collection_start=date(2024, 1, 1),
        )  # fmt: skip
    assert refused.value.problems[0][0] == "licence"


def test_it_refuses_an_attribute_schema_with_a_broken_banding(actor):
    with pytest.raises(RuleViolation) as refused:
        services.register_attribute_schema(
            actor=actor,
            name="x",
            version="1",
            definition={"sex": {"values": ["a", "b"], "bandings": {"b": {"x": ["a"]}}}},
        )
    assert refused.value.problems[0][0] == "definition"
