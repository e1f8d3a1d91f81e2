from django.contrib.auth.models import Group


def codenames(role):
    return set(Group.objects.get(name=role).permissions.filter(content_type__app_label="audit").values_list(
        "codename", flat=True))


def test_compliance_officers_define_policies_and_start_runs_and_auditors_only_read(db):
    assert {"define_policy", "start_audit_run", "view_auditrun", "view_gapresult"} <= codenames("Compliance officer")
    auditor = codenames("Auditor")
    assert "view_auditrun" in auditor and "view_gapresult" in auditor
    assert not {"define_policy", "start_audit_run"} & auditor
    assert codenames("Data steward") == set()
