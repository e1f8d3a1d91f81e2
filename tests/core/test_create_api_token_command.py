import io

import pytest
from django.core.management import CommandError, call_command

from core.tokens import user_for_key

pytestmark = pytest.mark.django_db


def test_it_prints_a_key_that_authenticates_as_the_user(role_user):
    user = role_user("steward")
    out = io.StringIO()
    call_command("create_api_token", "web-steward", name="kiosk", stdout=out, stderr=io.StringIO())
    assert user_for_key(out.getvalue().strip()) == user


def test_it_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("create_api_token", "ghost", name="kiosk")


def test_it_refuses_an_empty_name(role_user):
    role_user("steward")
    with pytest.raises(CommandError, match="name: say what will use this token"):
        call_command("create_api_token", "web-steward", name="  ")
