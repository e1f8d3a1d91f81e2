import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from consent import services
from consent.models import ConsentEvent, DataItem, Notice, Subject
from core.models import AuditLogEntry
from tests.conftest import at


@pytest.fixture
def member(django_user_model, client):
    def sign_in(role):
        user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return sign_in


@pytest.fixture
def population(actor, make_subject, notice):
    for reference, country in (("FR-1", "FR"), ("FR-2", "FR"), ("DE-1", "DE")):
        subject = make_subject(reference, jurisdiction=country)
        services.grant_consent(
            actor=actor, subject=subject, purposes=["evaluation"], notice=notice, channel="web_form",
            collected_at=at(2025, 1),
        )  # fmt: skip
    services.withdraw_consent(actor=actor, subject=Subject.objects.get(reference="FR-2"), channel="email")


def listed(response):
    return {str(s) for s in response.context["cl"].result_list}


def test_a_data_steward_finds_a_subject_by_reference(client, member, population):
    member("Data steward")
    response = client.get(reverse("admin:consent_subject_changelist"), {"q": "FR-2"})
    assert response.status_code == 200
    assert listed(response) == {"FR-2"}


def test_filters_narrow_subjects_by_consent_and_jurisdiction(client, member, population):
    member("Data steward")
    url = reverse("admin:consent_subject_changelist")
    assert listed(client.get(url, {"consent": "evaluation:active"})) == {"FR-1", "DE-1"}
    assert listed(client.get(url, {"consent": "evaluation:inactive"})) == {"FR-2"}
    assert listed(client.get(url, {"jurisdiction": "FR", "consent": "evaluation:active"})) == {"FR-1"}


def test_the_subject_page_shows_the_history_and_current_consent(client, member, population):
    member("Data steward")
    subject = Subject.objects.get(reference="FR-2")
    page = client.get(reverse("admin:consent_subject_change", args=[subject.pk])).content.decode()
    assert "withdrawal" in page and "grant" in page
    assert "Evaluation</strong>: not active" in page


def test_the_withdraw_action_goes_through_the_service(client, member, population):
    member("Data steward")
    subject = Subject.objects.get(reference="DE-1")
    response = client.post(
        reverse("admin:consent_subject_changelist"),
        {"action": "withdraw_all_consent", "_selected_action": [subject.pk]},
        follow=True,
    )
    assert response.status_code == 200
    latest = ConsentEvent.objects.filter(subject=subject).latest("sequence")
    assert latest.kind == "withdrawal"
    entry = AuditLogEntry.objects.filter(action="consent.withdrawal").latest("id")
    assert entry.actor.username == "data_steward"


def test_an_auditor_cannot_withdraw(client, member, population):
    member("Auditor")
    subject = Subject.objects.get(reference="DE-1")
    before = ConsentEvent.objects.count()
    client.post(
        reverse("admin:consent_subject_changelist"),
        {"action": "withdraw_all_consent", "_selected_action": [subject.pk]},
    )
    assert ConsentEvent.objects.count() == before


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
    services.grant_consent(
        actor=actor, subject=subject, purposes=["training"], notice=notice, channel="web_form", collected_at=at(2025, 1)
    )
    services.grant_consent(
        actor=actor,
        subject=subject,
        purposes=["evaluation"],
        notice=notice,
        channel="web_form",
        collected_at=at(2025, 2),
    )
    response = client.get(reverse("admin:consent_consentevent_changelist"), {"purpose": "training"})
    assert [e.purposes for e in response.context["cl"].result_list] == [["training"]]


@pytest.fixture
def item(dataset, subject):
    return DataItem.objects.create(
        dataset=dataset, item_ref="face-1", subject=subject, source=dataset.sources.get(name="studio"),
        kind="image", attributes={"skin_tone": "9", "sex": "female"},
    )  # fmt: skip


def test_an_auditor_does_not_see_protected_attributes(client, member, item):
    member("Auditor")
    page = client.get(reverse("admin:consent_dataitem_change", args=[item.pk]))
    assert page.status_code == 200
    assert b"skin_tone" not in page.content
    assert not AuditLogEntry.objects.filter(action="attributes.read").exists()


def test_a_data_steward_sees_protected_attributes_and_the_read_is_logged(client, member, item):
    steward = member("Data steward")
    page = client.get(reverse("admin:consent_dataitem_change", args=[item.pk]))
    assert b"skin_tone: 9" in page.content
    entry = AuditLogEntry.objects.get(action="attributes.read")
    assert entry.actor == steward


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


def test_a_refused_subject_shows_the_reason_on_the_field(client, member):
    member("Data steward")
    response = client.post(
        reverse("admin:consent_subject_add"), {"reference": "S-9", "jurisdiction": "XX", "birth_month": "1990-01-01"}
    )
    assert response.status_code == 200
    assert "unknown country" in str(response.context["adminform"].form.errors["jurisdiction"])
    assert not Subject.objects.filter(reference="S-9").exists()
