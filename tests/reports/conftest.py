import pytest
from django.contrib.auth.models import Group

from audit import services as audit_services
from core.audit_log import Actor
from reports.signing import create_signing_key
from tests.audit.conftest import demo, frozen_set, model, policy, queued_run  # noqa: F401 - shared fixtures


@pytest.fixture
def signing_key(settings):
    return create_signing_key(common_name="Test reports", organisation=settings.ORGANISATION_NAME)


def member(django_user_model, username, role):
    user = django_user_model.objects.create_user(username)
    user.groups.add(Group.objects.get(name=role))
    return Actor.of_user(user)


@pytest.fixture
def officer(django_user_model):
    return member(django_user_model, "olivia", "Compliance officer")


@pytest.fixture
def auditor(django_user_model):
    return member(django_user_model, "arthur", "Auditor")


@pytest.fixture
def audited(queued_run):  # noqa: F811
    audit_services.execute_audit_run(queued_run.pk)
    queued_run.refresh_from_db()
    return queued_run
