"""Small readers of environment variables that fail loudly on a bad value.

Every setting that comes from the environment goes through one of these, so that a
typo in a deployment ("ture", "5O") stops the process at start-up with the variable
named, instead of silently falling back to a default.
"""

import os
from pathlib import Path

import dj_database_url


class ImproperEnvironment(Exception):
    """A required environment variable is missing or has a value we cannot use."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperEnvironment(f"{name} must be set")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperEnvironment(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperEnvironment(f"{name} must be an integer; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperEnvironment(f"{name} must be at least {minimum}; got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ImproperEnvironment(f"{name} must be a comma-separated list without empty items; got {raw!r}")
    return items


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.strip():
        raise ImproperEnvironment(f"{name} must be a path; it is empty")
    return Path(raw).expanduser().resolve()


def env_database(name: str, default: str) -> dict:
    raw = os.environ.get(name, default)
    try:
        config = dj_database_url.parse(raw, conn_max_age=0)
    except Exception as exc:
        raise ImproperEnvironment(f"{name} is not a database URL we understand: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
        raise ImproperEnvironment(f"{name} must be a sqlite:// or postgres:// URL; got engine {engine!r}")
    return config


def env_optional_url(name: str) -> str | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    if "://" not in raw:
        raise ImproperEnvironment(f"{name} must be an address like tcp://host:8786; got {raw!r}")
    return raw.strip()
