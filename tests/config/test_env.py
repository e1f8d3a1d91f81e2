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

# env_str


def test_it_reads_a_string_and_falls_back_to_its_default(monkeypatch):
    monkeypatch.setenv("ORG", "Acme")
    assert env_str("ORG", "Example") == "Acme"
    monkeypatch.delenv("ORG")
    assert env_str("ORG", "Example") == "Example"


def test_it_requires_a_variable_without_default(monkeypatch):
    monkeypatch.delenv("SECRET", raising=False)
    with pytest.raises(ImproperEnvironment, match="^SECRET must be set$"):
        env_str("SECRET")


# env_bool


@pytest.mark.parametrize("raw", ["1", "true", "Yes", " ON ", "TRUE"])
def test_it_reads_true_booleans_in_any_case(monkeypatch, raw):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", False) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off", ""])
def test_it_reads_false_booleans_in_any_case(monkeypatch, raw):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", True) is False


def test_it_uses_the_boolean_default_when_unset(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    assert env_bool("FLAG", True) is True
    assert env_bool("FLAG", False) is False


@pytest.mark.parametrize("raw", ["ture", "2", "y", "enabled"])
def test_it_refuses_a_bad_boolean(monkeypatch, raw):
    monkeypatch.setenv("FLAG", raw)
    with pytest.raises(ImproperEnvironment, match=f"^FLAG must be one of .*; got '{raw}'$"):
        env_bool("FLAG", False)


# env_int


def test_it_reads_an_integer_and_falls_back_to_its_default(monkeypatch):
    monkeypatch.setenv("COUNT", " 42 ")
    assert env_int("COUNT", 1) == 42
    monkeypatch.delenv("COUNT")
    assert env_int("COUNT", 7) == 7


@pytest.mark.parametrize("raw", ["5O", "1.5", "", "ten"])
def test_it_refuses_a_bad_integer(monkeypatch, raw):
    monkeypatch.setenv("COUNT", raw)
    with pytest.raises(ImproperEnvironment, match=f"^COUNT must be an integer; got '{raw}'$"):
        env_int("COUNT", 1)


def test_it_refuses_an_integer_below_its_minimum(monkeypatch):
    monkeypatch.setenv("COUNT", "-1")
    with pytest.raises(ImproperEnvironment, match="^COUNT must be at least 0; got -1$"):
        env_int("COUNT", 1, minimum=0)
    monkeypatch.setenv("COUNT", "0")
    assert env_int("COUNT", 1, minimum=0) == 0


# env_list


def test_it_reads_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_it_returns_a_copy_of_the_list_default(monkeypatch):
    monkeypatch.delenv("HOSTS", raising=False)
    default = ["localhost"]
    hosts = env_list("HOSTS", default)
    hosts.append("evil.example")
    assert default == ["localhost"]


@pytest.mark.parametrize("raw", ["a.example,,b.example", "a.example,", ""])
def test_it_refuses_empty_list_items(monkeypatch, raw):
    monkeypatch.setenv("HOSTS", raw)
    with pytest.raises(ImproperEnvironment, match="^HOSTS must be a comma-separated list without empty items"):
        env_list("HOSTS", [])


# env_path


def test_it_reads_a_path_and_makes_it_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDIA", "uploads")
    assert env_path("MEDIA", Path("/unused")) == tmp_path.resolve() / "uploads"
    monkeypatch.delenv("MEDIA")
    assert env_path("MEDIA", Path("/default")) == Path("/default")


def test_it_refuses_an_empty_path(monkeypatch):
    monkeypatch.setenv("MEDIA", " ")
    with pytest.raises(ImproperEnvironment, match="^MEDIA must be a path; it is empty$"):
        env_path("MEDIA", Path("/tmp"))


# env_database


def test_it_reads_postgres_and_sqlite_urls(monkeypatch, tmp_path):
    monkeypatch.setenv("DB", "postgres://u:p@db.example:5432/audit")
    config = env_database("DB", "sqlite:///unused")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == ("db.example", 5432, "audit", "u")
    monkeypatch.delenv("DB")
    config = env_database("DB", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "x.sqlite3")


@pytest.mark.parametrize("raw", ["mysql://u:p@db/audit", "oracle://u:p@db/audit", "postgis://u:p@db/audit"])
def test_it_refuses_a_database_engine_we_do_not_support(monkeypatch, raw):
    monkeypatch.setenv("DB", raw)
    with pytest.raises(ImproperEnvironment, match="^DB must be a sqlite:// or postgres:// URL; got engine"):
        env_database("DB", "sqlite:///x")


@pytest.mark.parametrize("raw", ["nonsense", "", "ftp://db/audit"])
def test_it_refuses_a_database_url_it_cannot_parse(monkeypatch, raw):
    monkeypatch.setenv("DB", raw)
    with pytest.raises(ImproperEnvironment, match="^DB is not a database URL we understand"):
        env_database("DB", "sqlite:///x")


# env_optional_url


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_it_treats_an_unset_or_empty_scheduler_address_as_none(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("DASK", raising=False)
    else:
        monkeypatch.setenv("DASK", raw)
    assert env_optional_url("DASK") is None


def test_it_reads_a_scheduler_address(monkeypatch):
    monkeypatch.setenv("DASK", " tcp://scheduler:8786 ")
    assert env_optional_url("DASK") == "tcp://scheduler:8786"


def test_it_refuses_a_scheduler_address_without_a_scheme(monkeypatch):
    monkeypatch.setenv("DASK", "scheduler:8786")
    with pytest.raises(
        ImproperEnvironment, match="^DASK must be an address like tcp://host:8786; got 'scheduler:8786'$"
    ):
        env_optional_url("DASK")
