"""The data steward's admin: every write through a service, the ledger read-only, attribute reads logged."""

import pandas as pd
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from consent import services
from consent.importing.items import import_items
from consent.models import ConsentEvent, DataItem, Notice, Source, Subject
from core.models import AuditLogEntry
from tests.conftest import at

SUBJECTS = reverse("admin:consent_subject_changelist")


@pytest.fixture
def member(django_user_model, client):
    """Sign a staff user in as a member of a role's group; returns the user."""

    def sign_in(role):
        user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return sign_in


@pytest.fixture
def population(actor, make_subject, notice):
    """FR-1 and DE-1 consent to evaluation; FR-2 consented and withdrew."""
    for reference, country in (("FR-1", "FR"), ("FR-2", "FR"), ("DE-1", "DE")):
        subject = make_subject(reference, jurisdiction=country)
        services.grant_consent(
            actor=actor, subject=subject, purposes=["evaluation"], notice=notice, channel="web_form",
            collected_at=at(2025, 1),
        )  # fmt: skip
    services.withdraw_consent(actor=actor, subject=Subject.objects.get(reference="FR-2"), channel="email")


def listed(response):
    return {str(row) for row in response.context["cl"].result_list}


def shown_messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def run_action(client, action, subjects, **extra):
    return client.post(SUBJECTS, {"action": action, "_selected_action": [s.pk for s in subjects], **extra}, follow=True)


# Finding subjects ----------------------------------------------------------------------------


def test_a_data_steward_finds_a_subject_by_reference(client, member, population):
    member("Data steward")
    response = client.get(SUBJECTS, {"q": "FR-2"})
    assert response.status_code == 200
    assert listed(response) == {"FR-2"}


def test_the_search_also_matches_the_beginning_of_a_reference(client, member, population):
    member("Data steward")
    assert listed(client.get(SUBJECTS, {"q": "FR"})) == {"FR-1", "FR-2"}


def test_filters_narrow_subjects_by_consent_and_jurisdiction(client, member, population):
    member("Data steward")
    assert listed(client.get(SUBJECTS, {"consent": "evaluation:active"})) == {"FR-1", "DE-1"}
    assert listed(client.get(SUBJECTS, {"consent": "evaluation:inactive"})) == {"FR-2"}
    assert listed(client.get(SUBJECTS, {"consent": "training:active"})) == set()
    assert listed(client.get(SUBJECTS, {"jurisdiction": "FR"})) == {"FR-1", "FR-2"}
    assert listed(client.get(SUBJECTS, {"jurisdiction": "FR", "consent": "evaluation:active"})) == {"FR-1"}


def test_the_erased_filter_separates_erased_subjects(client, member, actor, population):
    member("Data steward")
    erased = Subject.objects.get(reference="DE-1")
    services.erase_subject(actor=actor, subject=erased, channel="email")
    assert listed(client.get(SUBJECTS, {"erased": "yes"})) == {f"erased subject {erased.key}"}
    assert listed(client.get(SUBJECTS, {"erased": "no"})) == {"FR-1", "FR-2"}


def test_the_jurisdiction_filter_offers_only_the_countries_present(client, member, actor, population):
    member("Data steward")
    services.erase_subject(actor=actor, subject=Subject.objects.get(reference="DE-1"), channel="email")
    [jurisdiction] = [f for f in client.get(SUBJECTS).context["cl"].filter_specs if f.title == "jurisdiction"]
    assert jurisdiction.lookup_choices == [("FR", "FR")]


def test_the_subject_page_shows_the_history_and_current_consent(client, member, population):
    member("Data steward")
    subject = Subject.objects.get(reference="FR-2")
    page = client.get(reverse("admin:consent_subject_change", args=[subject.pk])).content.decode()
    assert "withdrawal" in page and "grant" in page
    assert "Evaluation</strong>: not active" in page
    assert "Web form" in page and "E-mail" in page


# Adding and changing subjects ----------------------------------------------------------------


def test_adding_a_subject_goes_through_the_service(client, member):
    steward = member("Data steward")
    response = client.post(
        reverse("admin:consent_subject_add"), {"reference": "S-9", "jurisdiction": "fr", "birth_month": "1990-04-17"}
    )
    assert response.status_code == 302
    subject = Subject.objects.get(reference="S-9")
    assert (subject.jurisdiction, subject.birth_month.isoformat()) == ("FR", "1990-04-01")
    entry = AuditLogEntry.objects.get(action="subject.register")
    assert (entry.actor, entry.object_id) == (steward, str(subject.pk))
    # Django's own admin log would keep the reference past an erasure.
    assert not LogEntry.objects.filter(object_repr__contains="S-9").exists()


def test_a_refused_subject_shows_the_reason_on_the_field(client, member):
    member("Data steward")
    response = client.post(
        reverse("admin:consent_subject_add"), {"reference": "S-9", "jurisdiction": "XX", "birth_month": "1990-01-01"}
    )
    assert response.status_code == 200
    assert "unknown country" in str(response.context["adminform"].form.errors["jurisdiction"])
    assert not Subject.objects.filter(reference="S-9").exists()


def test_a_taken_reference_is_refused_on_the_reference_field(client, member, population):
    member("Data steward")
    response = client.post(
        reverse("admin:consent_subject_add"), {"reference": "FR-1", "jurisdiction": "DE", "birth_month": "1990-01-01"}
    )
    assert response.status_code == 200
    assert "reference" in response.context["adminform"].form.errors
    assert Subject.objects.filter(reference="FR-1").get().jurisdiction == "FR"


def test_subjects_cannot_be_changed_or_deleted_in_the_admin(client, member, population):
    member("Data steward")
    subject = Subject.objects.get(reference="FR-1")
    change_url = reverse("admin:consent_subject_change", args=[subject.pk])
    assert b'name="_save"' not in client.get(change_url).content
    assert client.post(change_url, {"reference": "FR-X", "jurisdiction": "FR"}).status_code == 403
    assert client.post(reverse("admin:consent_subject_delete", args=[subject.pk]), {"post": "yes"}).status_code == 403
    assert Subject.objects.get(pk=subject.pk).reference == "FR-1"


# Withdrawal and erasure ----------------------------------------------------------------------


def test_the_withdraw_action_goes_through_the_service(client, member, population):
    member("Data steward")
    subject = Subject.objects.get(reference="DE-1")
    assert b'value="withdraw_all_consent"' in client.get(SUBJECTS).content
    before = ConsentEvent.objects.count()
    response = run_action(client, "withdraw_all_consent", [subject])
    assert response.status_code == 200
    assert ConsentEvent.objects.count() == before + 1
    latest = ConsentEvent.objects.filter(subject=subject).latest("sequence")
    assert (latest.kind, latest.channel) == ("withdrawal", "web_form")
    entry = AuditLogEntry.objects.filter(action="consent.withdrawal").latest("id")
    assert entry.actor.username == "data_steward"
    assert entry.object_id == str(latest.sequence)
    assert "Recorded 1 withdrawal(s)." in shown_messages(response)
    assert listed(client.get(SUBJECTS, {"consent": "evaluation:active"})) == {"FR-1"}


def test_the_withdraw_action_reports_each_refusal_and_counts_the_rest(client, member, make_subject, population):
    member("Data steward")
    never_asked = make_subject("NEW-1")
    response = run_action(client, "withdraw_all_consent", [Subject.objects.get(reference="FR-1"), never_asked])
    shown = shown_messages(response)
    assert any(m.startswith("NEW-1: a withdrawal at ") and "before any grant" in m for m in shown), shown
    assert "Recorded 1 withdrawal(s)." in shown
    assert not ConsentEvent.objects.filter(subject=never_asked).exists()


def test_an_auditor_can_neither_see_nor_run_the_withdraw_action(client, member, population):
    member("Auditor")
    page = client.get(SUBJECTS).content
    assert b"withdraw_all_consent" not in page and b"erase_personal_data" not in page
    before = ConsentEvent.objects.count()
    run_action(client, "withdraw_all_consent", [Subject.objects.get(reference="DE-1")])
    assert ConsentEvent.objects.count() == before


def test_erasing_asks_for_confirmation_first(client, member, population):
    member("Data steward")
    subject = Subject.objects.get(reference="DE-1")
    page = run_action(client, "erase_personal_data", [subject])
    assert page.status_code == 200
    assert b"Yes, erase their personal data" in page.content and b"DE-1" in page.content
    assert not Subject.objects.get(pk=subject.pk).is_erased
    assert not AuditLogEntry.objects.filter(action="subject.erase").exists()


def test_erasing_goes_through_the_service_once_confirmed(client, member, population):
    steward = member("Data steward")
    subject = Subject.objects.get(reference="DE-1")
    response = run_action(client, "erase_personal_data", [subject], confirmed="yes")
    assert "Erased 1 subject(s)." in shown_messages(response)
    subject.refresh_from_db()
    assert subject.is_erased and subject.reference is None
    assert ConsentEvent.objects.filter(subject=subject).latest("sequence").kind == "erasure"
    assert AuditLogEntry.objects.get(action="subject.erase").actor == steward


def test_a_compliance_officer_cannot_erase(client, member, population):
    member("Compliance officer")
    subject = Subject.objects.get(reference="DE-1")
    run_action(client, "erase_personal_data", [subject], confirmed="yes")
    assert not Subject.objects.get(pk=subject.pk).is_erased


# The consent ledger --------------------------------------------------------------------------


def test_consent_events_cannot_be_edited_or_deleted_in_the_admin(client, member, population):
    member("Data steward")
    event = ConsentEvent.objects.first()
    change_url = reverse("admin:consent_consentevent_change", args=[event.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change_url, {"channel": "email"}).status_code == 403
    assert (
        client.post(reverse("admin:consent_consentevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    )
    assert client.get(reverse("admin:consent_consentevent_add")).status_code == 403
    assert ConsentEvent.objects.get(pk=event.pk).channel == "web_form"


def test_events_filter_by_purpose(client, member, actor, subject, notice):
    member("Data steward")
    for month, purpose in ((1, "training"), (2, "evaluation")):
        services.grant_consent(
            actor=actor, subject=subject, purposes=[purpose], notice=notice, channel="web_form",
            collected_at=at(2025, month),
        )  # fmt: skip
    response = client.get(reverse("admin:consent_consentevent_changelist"), {"purpose": "training"})
    assert [e.purposes for e in response.context["cl"].result_list] == [["training"]]


def test_events_filter_by_kind_and_are_found_by_subject_reference(client, member, population):
    member("Data steward")
    url = reverse("admin:consent_consentevent_changelist")
    withdrawals = client.get(url, {"kind": "withdrawal"}).context["cl"].result_list
    assert [e.subject.reference for e in withdrawals] == ["FR-2"]
    found = client.get(url, {"q": "FR-2"}).context["cl"].result_list
    assert [e.kind for e in found] == ["grant", "withdrawal"]


# Data items and their protected attributes ---------------------------------------------------


@pytest.fixture
def item(actor, dataset, subject):
    frame = pd.DataFrame(
        [{"item_ref": "face-1", "subject": subject.reference, "source": "studio", "kind": "tabular",
          "skin_tone": "9", "sex": "female", "feature_x": "0.5", "image_path": ""}]
    )  # fmt: skip
    import_items(actor=actor, dataset=dataset, frame=frame, source_name="items.csv", source_sha256="")
    return DataItem.objects.get(item_ref="face-1")


def test_an_auditor_does_not_see_protected_attributes(client, member, item):
    member("Auditor")
    page = client.get(reverse("admin:consent_dataitem_change", args=[item.pk]))
    assert page.status_code == 200
    assert b"face-1" in page.content
    assert b"skin_tone" not in page.content
    assert not AuditLogEntry.objects.filter(action="attributes.read").exists()


def test_a_data_steward_sees_protected_attributes_and_the_read_is_logged(client, member, item):
    steward = member("Data steward")
    page = client.get(reverse("admin:consent_dataitem_change", args=[item.pk]))
    assert b"skin_tone: 9" in page.content
    entry = AuditLogEntry.objects.get(action="attributes.read")
    assert entry.actor == steward
    assert entry.after["item_ids"] == [item.pk]


def test_the_item_list_shows_no_attributes_and_logs_no_read(client, member, item):
    member("Data steward")
    response = client.get(reverse("admin:consent_dataitem_changelist"))
    assert listed(response) == {str(item)}
    assert b"skin_tone" not in response.content and b"female" not in response.content
    assert not AuditLogEntry.objects.filter(action="attributes.read").exists()


def test_items_filter_by_the_copyright_status_of_their_source(client, member, item):
    member("Data steward")
    url = reverse("admin:consent_dataitem_changelist")
    assert listed(client.get(url, {"source__copyright_status": "owned"})) == {str(item)}
    assert listed(client.get(url, {"source__copyright_status": "disputed"})) == set()


def test_items_cannot_be_added_changed_or_deleted_in_the_admin(client, member, item):
    member("Data steward")
    assert client.get(reverse("admin:consent_dataitem_add")).status_code == 403
    assert client.post(reverse("admin:consent_dataitem_change", args=[item.pk]), {"kind": "image"}).status_code == 403
    assert client.post(reverse("admin:consent_dataitem_delete", args=[item.pk]), {"post": "yes"}).status_code == 403


# Notices and provenance ----------------------------------------------------------------------


def test_adding_a_notice_goes_through_the_service(client, member):
    member("Data steward")
    response = client.post(
        reverse("admin:consent_notice_add"),
        {"version": "3", "language": "en", "title": "Consent", "text": "Text of the notice.",
         "offered": ["evaluation", "bias_audit"], "published_at_0": "2026-01-01", "published_at_1": "00:00:00"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    notice = Notice.objects.get(version="3")
    assert notice.purposes == ["evaluation", "bias_audit"]
    assert AuditLogEntry.objects.filter(action="notice.publish", object_id=str(notice.pk)).exists()


def test_a_notice_is_read_only_once_published(client, member, notice):
    member("Data steward")
    change_url = reverse("admin:consent_notice_change", args=[notice.pk])
    assert b'name="_save"' not in client.get(change_url).content
    assert client.post(change_url, {"title": "Changed"}).status_code == 403
    assert client.post(reverse("admin:consent_notice_delete", args=[notice.pk]), {"post": "yes"}).status_code == 403


def test_adding_a_source_goes_through_the_service(client, member, dataset):
    steward = member("Data steward")
    response = client.post(
        reverse("admin:consent_source_add"),
        {"dataset": dataset.pk, "name": "archive", "origin": "the 2019 archive", "licence": "cc-by-4.0",
         "copyright_status": "licensed", "collection_start": "2019-01-01"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    source = Source.objects.get(name="archive")
    assert source.licence == "CC-BY-4.0"
    assert AuditLogEntry.objects.get(action="source.add", object_id=str(source.pk)).actor == steward


def test_a_refused_source_shows_the_reason_on_the_licence_field(client, member, dataset):
    member("Data steward")
    response = client.post(
        reverse("admin:consent_source_add"),
        {"dataset": dataset.pk, "name": "archive", "origin": "the 2019 archive", "licence": "whatever we like",
         "copyright_status": "licensed", "collection_start": "2019-01-01"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "SPDX" in str(response.context["adminform"].form.errors["licence"])
    assert not Source.objects.filter(name="archive").exists()


def test_sources_filter_by_copyright_status_and_licence(client, member, dataset):
    member("Data steward")
    url = reverse("admin:consent_source_changelist")
    assert {s.name for s in client.get(url, {"copyright_status": "disputed"}).context["cl"].result_list} == {"scraped"}
    assert {s.name for s in client.get(url, {"licence": "CC-BY-4.0"}).context["cl"].result_list} == {"partner"}


def test_the_dataset_page_shows_its_datasheet_and_sources(client, member, dataset):
    member("Data steward")
    page = client.get(reverse("admin:consent_dataset_change", args=[dataset.pk])).content.decode()
    assert "Few subjects over 70." in page and "Volunteers photographed in studio conditions." in page
    assert "scraped collection" in page
    assert 'name="_save"' not in page


@pytest.mark.parametrize("role", ["Data steward", "Compliance officer", "Auditor"])
@pytest.mark.parametrize(
    "model", ["subject", "consentevent", "notice", "attributeschema", "dataset", "source", "dataitem", "importbatch"]
)
def test_every_role_can_browse_every_list(client, member, population, item, role, model):
    member(role)
    assert client.get(reverse(f"admin:consent_{model}_changelist")).status_code == 200


@pytest.mark.parametrize("model", ["subject", "notice", "attributeschema", "dataset", "source"])
def test_a_data_steward_may_add_what_a_service_creates_and_an_auditor_may_not(client, member, model):
    url = reverse(f"admin:consent_{model}_add")
    member("Data steward")
    assert client.get(url).status_code == 200
    member("Auditor")
    assert client.get(url).status_code == 403
