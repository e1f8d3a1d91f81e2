import pytest

from core.audit_log import Actor
from core.models import ApiToken, AuditLogEntry
from core.tokens import issue_api_token, revoke_api_token, user_for_key

pytestmark = pytest.mark.django_db


def test_a_token_key_finds_its_user_and_only_its_hash_is_stored(role_user):
    user = role_user("steward")
    token, key = issue_api_token(actor=Actor.of_user(user), user=user, name="kiosk")
    assert user_for_key(key) == user
    assert key not in {token.key_hash, token.prefix}
    assert AuditLogEntry.objects.filter(action="api_token.issue", object_id=str(token.pk)).exists()


def test_a_revoked_token_finds_nobody(role_user):
    user = role_user("steward")
    token, key = issue_api_token(actor=Actor.of_user(user), user=user, name="kiosk")
    revoke_api_token(actor=Actor.of_user(user), token=token)
    assert user_for_key(key) is None


def test_a_token_of_a_deactivated_user_finds_nobody(role_user):
    user = role_user("steward")
    _, key = issue_api_token(actor=Actor.of_user(user), user=user, name="kiosk")
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert user_for_key(key) is None


def test_an_unknown_or_malformed_key_finds_nobody(role_user):
    assert user_for_key("bat_not-a-real-key") is None
    assert user_for_key("") is None


def test_a_user_may_not_issue_a_token_for_someone_else(role_user):
    with pytest.raises(PermissionError):
        issue_api_token(actor=Actor.of_user(role_user("auditor")), user=role_user("steward"), name="x")
    assert not ApiToken.objects.exists()
