from django.contrib.auth.models import Group

from audit.models import AuditRun
from core.models import AuditLogEntry


def sign_in(client, django_user_model, role):
    user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def test_an_officer_cancels_a_queued_run_from_the_admin_through_the_service(client, django_user_model, queued_run):
    sign_in(client, django_user_model, "Compliance officer")
    response = client.post(
        "/admin/audit/auditrun/", {"action": "cancel", "_selected_action": [queued_run.pk]}, follow=True
    )
    assert response.status_code == 200
    assert AuditRun.objects.get(pk=queued_run.pk).status == AuditRun.Status.CANCELLED
    assert AuditLogEntry.objects.get(action="audit_run.cancel").actor.username == "compliance_officer"


def test_an_auditor_sees_runs_but_cannot_cancel_them(client, django_user_model, queued_run):
    sign_in(client, django_user_model, "Auditor")
    assert client.get(f"/admin/audit/auditrun/{queued_run.pk}/change/").status_code == 200
    client.post("/admin/audit/auditrun/", {"action": "cancel", "_selected_action": [queued_run.pk]})
    assert AuditRun.objects.get(pk=queued_run.pk).status == AuditRun.Status.QUEUED
