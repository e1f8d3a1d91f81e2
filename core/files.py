"""Files written alongside database rows must share the rows' fate."""

from contextlib import contextmanager
from pathlib import Path

from django.db import transaction


@contextmanager
def removed_unless_committed():
    """Collects paths of files written during a service; removes them if the service fails.

    Use it outside the service's `transaction.atomic()`, so that a failed commit removes
    the files too: ``with removed_unless_committed() as written, transaction.atomic(): ...``
    """
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            Path(path).unlink(missing_ok=True)
        raise


def delete_on_commit(path: Path) -> None:
    """Delete a file once the current transaction commits (never if it rolls back)."""
    transaction.on_commit(lambda: Path(path).unlink(missing_ok=True))
