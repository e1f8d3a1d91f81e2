from django.contrib.auth.models import Group


def test_an_auditor_sees_a_report_with_its_history_in_the_admin_but_cannot_change_it(
    client, django_user_model, audited, officer
):
    from reports import services

    report = services.generate_report(actor=officer, quarter="2026-Q4")
    user = django_user_model.objects.create_user("audra", is_staff=True)
    user.groups.add(Group.objects.get(name="Auditor"))
    client.force_login(user)
    page = client.get(f"/admin/reports/report/{report.pk}/change/")
    assert page.status_code == 200 and report.report_id in page.content.decode()
    assert client.post(f"/admin/reports/report/{report.pk}/delete/", {"post": "yes"}).status_code == 403
