"""Shared helpers for the benchmarks: a fresh database per run, timing, and reporting."""

import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgres://bias_audit:bias_audit@127.0.0.1:5432/bias_audit"


def setup_django(database_url: str, var_dir: Path) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'bench.sqlite3'}"


@contextmanager
def postgres_database(server_url: str):
    """A throwaway database on the PostgreSQL server at `server_url`; yields its URL, or None if unreachable."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(_psycopg_dsn(server_url), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        yield None
        return
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _drop(admin, name)
        admin.close()


def _drop(admin, name: str) -> None:
    """Drop the benchmark database once the child process's connection is gone."""
    import psycopg

    for _ in range(30):
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(1)
    print(f"could not drop the benchmark database {name}; drop it by hand")


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def report(name: str, seconds: list[float], *, target: float, unit: str = "s") -> None:
    median = statistics.median(seconds)
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    verdict = "meets" if median <= target else "MISSES"
    print(f"{name}: median {median:.2f} {unit} over {len(seconds)} run(s) [{runs}]")
    print(f"  target {target:.2f} {unit}; median / target = {median / target:.2f} ({verdict} the target)")


def temp_dir(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=prefix)
