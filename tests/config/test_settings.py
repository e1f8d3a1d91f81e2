"""The settings module, loaded in a fresh process the way a deployment loads it."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

# Every variable config/settings.py reads; the caller's values must not leak into these tests.
SETTINGS_VARIABLES = {
    "DJANGO_SETTINGS_MODULE",
    "VAR_DIR",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "ARTIFACT_ROOT",
    "DASK_SCHEDULER_ADDRESS",
    "ORGANISATION_NAME",
    "ORGANISATION_CONTACT",
    "ORGANISATION_ADDRESS",
    "PRIVACY_POLICY_URL",
    "MAX_IMAGE_PIXELS",
    "LOG_LEVEL",
    "SQLITE_TIMEOUT",
    "API_TOKEN_RATE_LIMIT",
    "DATABASE_UNAVAILABLE_RETRY_AFTER",
    "AUDIT_RUN_HEARTBEAT_SECONDS",
    "AUDIT_RUN_STALE_AFTER",
    "AUDIT_RUN_REAP_INTERVAL",
}


def manage(tmp_path, *args, **env):
    """Run manage.py in a fresh interpreter with a clean settings environment plus `env`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in SETTINGS_VARIABLES and not key.startswith("SECURE_")
    }
    environment["VAR_DIR"] = str(tmp_path / "var")
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def production(**overrides):
    values = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "audit.example.org"}
    values.update(overrides)
    return values


def test_the_deployment_check_passes_with_production_values(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_development_defaults_need_no_environment_but_debug(tmp_path):
    result = manage(tmp_path, "check", DEBUG="1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_is_not_in_debug_mode_unless_told(tmp_path):
    # Without DEBUG in the environment the settings are production's: they refuse to start without a secret key.
    result = manage(tmp_path, "check")
    assert result.returncode != 0
    assert "ImproperEnvironment: SECRET_KEY must be set" in result.stderr
    shown = manage(tmp_path, "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", **production())
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == "False"


def test_it_refuses_to_start_in_production_without_a_secret_key(tmp_path):
    values = production()
    del values["SECRET_KEY"]
    result = manage(tmp_path, "check", **values)
    assert result.returncode != 0
    assert "ImproperEnvironment: SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    "secret_key",
    ["", "   ", "dev-only-insecure-key-never-use-in-production-0123456789abcdefghijkl"],
    ids=["empty", "blank", "the-development-key"],
)
def test_it_refuses_to_start_in_production_with_an_unusable_secret_key(tmp_path, secret_key):
    result = manage(tmp_path, "check", **production(SECRET_KEY=secret_key))
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a secret value when DEBUG is off" in result.stderr


def test_it_refuses_to_start_in_production_without_allowed_hosts(tmp_path):
    values = production()
    del values["ALLOWED_HOSTS"]
    result = manage(tmp_path, "check", **values)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set when DEBUG is off" in result.stderr


def test_it_refuses_a_bad_database_url_scheme(tmp_path):
    result = manage(tmp_path, "check", DATABASE_URL="mysql://u:p@db/audit", DEBUG="1")
    assert result.returncode != 0
    assert "DATABASE_URL must be a sqlite:// or postgres:// URL" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "ture", "DEBUG must be one of"),
        ("MAX_IMAGE_PIXELS", "25e6", "MAX_IMAGE_PIXELS must be an integer"),
        ("LOG_LEVEL", "verbose", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("DASK_SCHEDULER_ADDRESS", "scheduler:8786", "DASK_SCHEDULER_ADDRESS must be an address"),
    ],
)
def test_it_refuses_a_bad_value_naming_the_variable(tmp_path, variable, value, message):
    result = manage(tmp_path, "check", **{"DEBUG": "1", variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_it_accepts_a_log_level_in_any_case(tmp_path):
    result = manage(tmp_path, "check", LOG_LEVEL="warning", DEBUG="1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_font_subsetting_notice_is_dropped_and_other_weasyprint_warnings_are_kept():
    import logging

    from config.logging import DropMessagesContaining

    drop = DropMessagesContaining("HarfBuzz-Subset")

    def record(message):
        return logging.LogRecord("weasyprint", logging.WARNING, __file__, 1, message, None, None)

    assert not drop.filter(record('Using fontTools instead of HarfBuzz-Subset for font "DejaVu Sans".'))
    assert drop.filter(record("Ignored `foo: bar` at 1:1, unknown property."))


def test_weasyprints_progress_steps_stay_out_of_the_log_and_its_warnings_reach_it():
    import logging

    from django.conf import settings

    assert settings.LOG_LEVEL == "INFO"
    assert not logging.getLogger("weasyprint.progress").isEnabledFor(logging.INFO)
    assert logging.getLogger("weasyprint").isEnabledFor(logging.WARNING)
