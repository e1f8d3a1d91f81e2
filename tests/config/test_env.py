from pathlib import Path

import pytest

from config.env import (
    ImproperEnvironment,
    env_bool,
    env_database,
    env_int,
    env_list,
    env_optional_url,
    env_path,
    env_str,
)


def test_it_reads_booleans_and_refuses_a_bad_one(monkeypatch):
    monkeypatch.setenv("FLAG", "Yes")
    assert env_bool("FLAG", False) is True
    monkeypatch.setenv("FLAG", "0")
    assert env_bool("FLAG", True) is False
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ImproperEnvironment, match="FLAG must be one of"):
        env_bool("FLAG", False)


def test_it_refuses_a_bad_integer(monkeypatch):
    monkeypatch.setenv("COUNT", "5O")
    with pytest.raises(ImproperEnvironment, match="COUNT must be an integer; got '5O'"):
        env_int("COUNT", 1)
    monkeypatch.setenv("COUNT", "-1")
    with pytest.raises(ImproperEnvironment, match="COUNT must be at least 0"):
        env_int("COUNT", 1, minimum=0)


def test_it_requires_a_variable_without_default(monkeypatch):
    monkeypatch.delenv("SECRET", raising=False)
    with pytest.raises(ImproperEnvironment, match="SECRET must be set"):
        env_str("SECRET")


def test_it_refuses_empty_list_items(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example,,b.example")
    with pytest.raises(ImproperEnvironment, match="HOSTS must be a comma-separated list"):
        env_list("HOSTS", [])
    monkeypatch.setenv("HOSTS", "a.example, b.example")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_it_refuses_an_empty_path(monkeypatch):
    monkeypatch.setenv("MEDIA", " ")
    with pytest.raises(ImproperEnvironment, match="MEDIA must be a path"):
        env_path("MEDIA", Path("/tmp"))


def test_it_reads_database_urls_and_refuses_other_engines(monkeypatch):
    monkeypatch.setenv("DB", "postgres://u:p@db.example:5432/audit")
    assert env_database("DB", "sqlite:///x")["ENGINE"] == "django.db.backends.postgresql"
    monkeypatch.setenv("DB", "mysql://u:p@db/audit")
    with pytest.raises(ImproperEnvironment, match="DB must be a sqlite:// or postgres:// URL"):
        env_database("DB", "sqlite:///x")
    monkeypatch.setenv("DB", "nonsense")
    with pytest.raises(ImproperEnvironment, match="DB"):
        env_database("DB", "sqlite:///x")


def test_it_reads_an_optional_scheduler_address(monkeypatch):
    monkeypatch.delenv("DASK", raising=False)
    assert env_optional_url("DASK") is None
    monkeypatch.setenv("DASK", "scheduler:8786")
    with pytest.raises(ImproperEnvironment, match="DASK must be an address"):
        env_optional_url("DASK")
