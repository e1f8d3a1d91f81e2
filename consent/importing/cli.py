"""Argument handling shared by the import commands."""

from pathlib import Path

from django.core.management.base import CommandError

from consent.errors import ImportFailed
from consent.importing import readers


def add_source_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", type=Path, help="a .csv or .parquet file")
    parser.add_argument("--sql-url", help="read with a SQL query instead: any SQLAlchemy database URL")
    parser.add_argument("--query", help="the SQL query to run with --sql-url")


def read_source(options) -> readers.Table:
    file, url, query = options["file"], options["sql_url"], options["query"]
    if bool(file) == bool(url):
        raise CommandError("give either a FILE or --sql-url with --query")
    if url and not query:
        raise CommandError("--sql-url needs --query")
    if file and not file.is_file():
        raise CommandError(f"no file {file}")
    return readers.read_file(file) if file else readers.read_sql(url, query)


def report_failure(command, failure: ImportFailed) -> CommandError:
    for problem in failure.problems:
        command.stderr.write(str(problem))
    return CommandError(f"{len(failure.problems)} problem(s) found; nothing was imported")
