"""Files written alongside database rows must share the rows' fate."""

import threading
from contextlib import contextmanager
from pathlib import Path

from django.db import transaction

_open = threading.local()


@contextmanager
def removed_unless_committed():
    """Collects paths of files written during a service; removes them if the service fails.

    Use it outside the service's `transaction.atomic()`, so that a failed commit removes
    the files too: ``with removed_unless_committed() as written, transaction.atomic(): ...``.
    Nested uses hand their files to the outermost one, so a caller that runs several services
    in one larger transaction (and wraps it the same way) removes every file if it fails.
    """
    stack = _open.__dict__.setdefault("stack", [])
    written: list[Path] = []
    stack.append(written)
    try:
        yield written
    except BaseException:
        for path in written:
            Path(path).unlink(missing_ok=True)
        raise
    finally:
        stack.pop()
    if stack:
        stack[-1].extend(written)


def delete_on_commit(path: Path) -> None:
    """Delete a file once the current transaction commits (never if it rolls back)."""
    transaction.on_commit(lambda: Path(path).unlink(missing_ok=True))
