"""Signed checkpoints of the consent ledger's head, kept outside the database.

The hash chain proves that no stored event was edited, and the ledger head that none was removed
from the end, but only against someone who cannot also rewrite the head: a role with DDL rights
can drop the triggers, delete the newest events and set the head to the new last event, and the
chain still verifies. A checkpoint is the head (sequence and hash) at a moment, signed with the
organisation's key (core/signing_key.py) and written as a file to settings.LEDGER_CHECKPOINT_DIR,
which should be copied to storage the database's administrators cannot change. `verify_ledger`
checks every checkpoint it finds: the event stored at the checkpoint's sequence must still exist
and carry the recorded hash, so a removed or rewritten tail is caught and its range named.

A file holds ``{"checkpoint": {...}, "signature": {...}}``; the signature covers the canonical JSON
(consent/rules/ledger.py) of the "checkpoint" object: format, organisation, sequence, hash, created_at.

Reports use `head_at` to embed the head at their snapshot and `check_embedded_head` to check it.
"""

import base64
import binascii
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from consent.models import ConsentEvent, LedgerHead
from consent.rules import ledger as chain
from core import audit_log, signing_key
from core.audit_log import Actor
from core.files import removed_unless_committed

FORMAT = "bias-audit-platform/ledger-checkpoint/1"
FILE_PREFIX = "ledger-checkpoint-"
FILE_GLOB = f"{FILE_PREFIX}*.json"

UNREADABLE = "checkpoint {name} cannot be read: {why}"
INVALID = "checkpoint {name} is not valid: {why}"
MISSING = "{events} missing: the ledger ends at {last} but {source} recorded {sequence}"
HOLE = "event {sequence} is missing: {source} recorded it with hash {recorded}…"
REWRITTEN = (
    "{events} rewritten: event {sequence} is stored with hash {stored}… but {source} recorded {recorded}…{since}"
)
GENESIS_MISMATCH = "{source} recorded the empty ledger with hash {recorded}…, which is not the genesis hash"
HEAD_MISMATCH = (
    "the ledger head (#{sequence}, {hash}…) is not the event stored at its sequence; "
    "run `manage.py verify_ledger` before signing it"
)
DOES_NOT_CONTINUE = "the ledger does not continue the latest checkpoint, so it is not signed: {why}"


class CheckpointRefused(Exception):
    pass


@dataclass(frozen=True)
class LedgerPosition:
    """A point in the ledger: the last event's sequence and hash (0 and the genesis hash when empty)."""

    sequence: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    hash: str
    created_at: str
    organisation: str
    signature: signing_key.Signature
    path: Path

    @property
    def moment(self) -> str:
        """The creation time to the second, as messages name it."""
        return self.created_at[:19] + "Z"

    @property
    def source(self) -> str:
        return f"checkpoint {self.path.name} of {self.moment}"


def signed_content(*, sequence: int, hash: str, created_at: str, organisation: str) -> bytes:
    return chain.canonical_json(
        {"format": FORMAT, "organisation": organisation, "sequence": sequence, "hash": hash, "created_at": created_at}
    )


def checkpoint_dir() -> Path:
    return Path(settings.LEDGER_CHECKPOINT_DIR)


# Reading -------------------------------------------------------------------------------------


class CheckpointUnreadable(Exception):
    def __init__(self, message: str, sequence: int | None = None):
        super().__init__(message)
        self.sequence = sequence


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint in `path`, its signature verified; raises CheckpointUnreadable saying why not."""
    name = path.name
    try:
        document = orjson.loads(path.read_bytes())
        body, signed = document["checkpoint"], document["signature"]
        sequence, hash_, created_at = body["sequence"], body["hash"], body["created_at"]
        organisation, form = body["organisation"], body["format"]
        signature = signing_key.Signature(
            value=base64.b64decode(signed["value"], validate=True),
            algorithm=signed["algorithm"],
            certificate_sha256=signed["certificate_sha256"],
        )
    except OSError as exc:
        raise CheckpointUnreadable(UNREADABLE.format(name=name, why=exc.strerror or exc)) from None
    except (orjson.JSONDecodeError, KeyError, TypeError, binascii.Error) as exc:
        raise CheckpointUnreadable(UNREADABLE.format(name=name, why=f"not a checkpoint file ({exc})")) from None
    claimed = sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None
    if form != FORMAT:
        raise CheckpointUnreadable(INVALID.format(name=name, why=f"unknown format {form!r}"), claimed)
    if claimed is None or claimed < 0 or not all(isinstance(v, str) for v in (hash_, created_at, organisation)):
        raise CheckpointUnreadable(INVALID.format(name=name, why="a field has the wrong type"), claimed)
    content = signed_content(sequence=sequence, hash=hash_, created_at=created_at, organisation=organisation)
    why = signing_key.verify(content, signature)
    if why:
        raise CheckpointUnreadable(INVALID.format(name=name, why=why), claimed)
    return Checkpoint(
        sequence=sequence, hash=hash_, created_at=created_at, organisation=organisation, signature=signature,
        path=path,
    )  # fmt: skip


def checkpoint_files(directories: list[Path] | None = None) -> list[Path]:
    """Every checkpoint file in the directories (default: LEDGER_CHECKPOINT_DIR), in name order."""
    found = []
    for directory in directories if directories is not None else [checkpoint_dir()]:
        if Path(directory).is_dir():
            found += sorted(Path(directory).glob(FILE_GLOB))
    return found


# Comparing with the ledger -------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointProblem:
    path: Path
    first_sequence: int | None
    message: str


@dataclass
class CheckpointReport:
    agreeing: list[Checkpoint] = field(default_factory=list)
    problems: list[CheckpointProblem] = field(default_factory=list)

    @property
    def latest(self) -> Checkpoint | None:
        return max(self.agreeing, key=lambda c: (c.sequence, c.created_at), default=None)


def _events(first: int, last: int, verb: str) -> str:
    """Name a range with its verb: "events 513-520 are", or "event 520 is" for one (verb: "are" or "were")."""
    if first == last:
        return f"event {first} {'is' if verb == 'are' else 'was'}"
    return f"events {first}-{last} {verb}"


def _stored_hashes(sequences: set[int]) -> dict[int, str]:
    stored: dict[int, str] = {}
    ordered = sorted(sequences)
    for start in range(0, len(ordered), 10_000):
        chunk = ordered[start : start + 10_000]
        stored.update(ConsentEvent.objects.filter(sequence__in=chunk).values_list("sequence", "hash"))
    return stored


def _last_sequence() -> int:
    return ConsentEvent.objects.aggregate(last=Max("sequence"))["last"] or 0


def _disagreement(
    position: LedgerPosition, *, source: str, stored: str | None, last: int, since: int = 0, since_source: str = ""
) -> tuple[int, str] | None:
    """(first affected sequence, why) when the ledger no longer holds `position`; None when it does."""
    sequence, recorded = position.sequence, position.hash
    if sequence == 0:
        if recorded == chain.GENESIS_HASH:
            return None
        return 0, GENESIS_MISMATCH.format(source=source, recorded=recorded[:12])
    if sequence > last:
        first = last + 1
        return first, MISSING.format(
            events=_events(first, sequence, "are"), last=last, source=source, sequence=sequence
        )
    if stored is None:  # a hole below the last event; the chain check names it too
        return sequence, HOLE.format(sequence=sequence, source=source, recorded=recorded[:12])
    if stored != recorded:
        # Everything after the last position known to agree may have been rewritten, up to this one.
        first = since + 1
        note = f" ({since_source}, which still agrees, recorded {since})" if since else ""
        return first, REWRITTEN.format(
            events=_events(first, sequence, "were"), sequence=sequence, stored=stored[:12], source=source,
            recorded=recorded[:12], since=note,
        )  # fmt: skip
    return None


def check_checkpoints(directories: list[Path] | None = None) -> CheckpointReport:
    """Compare every checkpoint in the directories with the stored ledger."""
    report = CheckpointReport()
    valid: list[Checkpoint] = []
    for path in checkpoint_files(directories):
        try:
            valid.append(read_checkpoint(path))
        except CheckpointUnreadable as exc:
            report.problems.append(CheckpointProblem(path=path, first_sequence=exc.sequence, message=str(exc)))
    if valid:
        stored = _stored_hashes({c.sequence for c in valid})
        last = _last_sequence()
        agreed: Checkpoint | None = None  # the highest agreeing checkpoint below the one at hand
        for checkpoint in sorted(valid, key=lambda c: (c.sequence, c.created_at)):
            since = agreed if agreed is not None and agreed.sequence < checkpoint.sequence else None
            problem = _disagreement(
                LedgerPosition(checkpoint.sequence, checkpoint.hash), source=checkpoint.source,
                stored=stored.get(checkpoint.sequence), last=last, since=since.sequence if since else 0,
                since_source=since.source if since else "",
            )  # fmt: skip
            if problem is None:
                report.agreeing.append(checkpoint)
                agreed = checkpoint
            else:
                report.problems.append(CheckpointProblem(checkpoint.path, problem[0], problem[1]))
    report.problems.sort(key=lambda p: (p.first_sequence is None, p.first_sequence or 0, p.path.name))
    return report


# For reports ---------------------------------------------------------------------------------


def head_at(moment: datetime | None = None) -> LedgerPosition:
    """The ledger's head as of `moment` (the last event recorded at or before it), or now.

    An approved report embeds this for its snapshot time, so that it can later be checked with
    `check_embedded_head` against the ledger as it is then.
    """
    if moment is None:
        head = LedgerHead.objects.get(pk=1)
        return LedgerPosition(head.sequence, head.hash)
    row = (
        ConsentEvent.objects.filter(recorded_at__lte=moment)
        .order_by("-sequence")
        .values_list("sequence", "hash")
        .first()
    )
    return LedgerPosition(*row) if row else LedgerPosition(0, chain.GENESIS_HASH)


@dataclass(frozen=True)
class HeadCheck:
    ok: bool
    message: str


def check_embedded_head(*, sequence: int, hash: str, source: str = "the report") -> HeadCheck:
    """Whether the ledger still holds the head that `source` embedded, and if not, which events went."""
    position = LedgerPosition(sequence, hash)
    stored = _stored_hashes({sequence}).get(sequence) if sequence else None
    problem = _disagreement(position, source=source, stored=stored, last=_last_sequence())
    if problem is None:
        return HeadCheck(ok=True, message=f"the ledger still holds event {sequence} with the hash {source} recorded")
    return HeadCheck(ok=False, message=problem[1])


# Writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenCheckpoint:
    checkpoint: Checkpoint

    def summary(self) -> str:
        c = self.checkpoint
        return (
            f"Checkpoint of event #{c.sequence} (hash {c.hash[:12]}…) at {c.created_at}, signed with certificate "
            f"{c.signature.certificate_sha256[:16]}…, written to {c.path}"
        )


def _latest_file(directory: Path) -> Path | None:
    files = checkpoint_files([directory])
    return files[-1] if files else None  # names sort by sequence, then time


def _file_name(sequence: int, created: datetime) -> str:
    return f"{FILE_PREFIX}{sequence:012d}-{created:%Y%m%dT%H%M%S%f}Z.json"


def write_checkpoint(*, actor: Actor, only_if_moved: bool = False) -> WrittenCheckpoint | None:
    """Sign the ledger head and write it to LEDGER_CHECKPOINT_DIR, with an audit-log entry.

    Refused (CheckpointRefused) when the head is not the event stored at its sequence, or when the
    ledger no longer holds the latest checkpoint already written: signing then would bless a removed
    tail. With `only_if_moved`, nothing is written when the head is the latest checkpoint's.
    """
    directory = checkpoint_dir()
    with removed_unless_committed() as written, transaction.atomic():
        head = LedgerHead.objects.get(pk=1)
        position = LedgerPosition(head.sequence, head.hash)
        last = _last_sequence()
        stored = _stored_hashes({head.sequence}).get(head.sequence) if head.sequence else None
        if head.sequence != last or _disagreement(position, source="the head", stored=stored, last=last):
            raise CheckpointRefused(HEAD_MISMATCH.format(sequence=head.sequence, hash=head.hash[:12]))
        latest_path = _latest_file(directory)
        if latest_path is not None:
            try:
                latest = read_checkpoint(latest_path)
            except CheckpointUnreadable as exc:
                raise CheckpointRefused(DOES_NOT_CONTINUE.format(why=exc)) from None
            previous = LedgerPosition(latest.sequence, latest.hash)
            problem = _disagreement(
                previous, source=latest.source, stored=_stored_hashes({latest.sequence}).get(latest.sequence),
                last=last,
            )  # fmt: skip
            if problem:
                raise CheckpointRefused(DOES_NOT_CONTINUE.format(why=problem[1]))
            if only_if_moved and previous == position:
                return None
        created = timezone.now()
        created_at = chain.timestamp(created)
        organisation = settings.ORGANISATION_NAME
        content = signed_content(
            sequence=head.sequence, hash=head.hash, created_at=created_at, organisation=organisation
        )
        signature = signing_key.sign(content)
        document = {
            "checkpoint": orjson.loads(content),
            "signature": {
                "algorithm": signature.algorithm,
                "certificate_sha256": signature.certificate_sha256,
                "value": base64.b64encode(signature.value).decode("ascii"),
            },
        }
        path = directory / _file_name(head.sequence, created)
        _write_new_file(path, orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        written.append(path)
        checkpoint = Checkpoint(
            sequence=head.sequence, hash=head.hash, created_at=created_at, organisation=organisation,
            signature=signature, path=path,
        )  # fmt: skip
        audit_log.record(
            actor=actor, action="ledger.checkpoint", object_type="ledger_checkpoint", object_id=path.name,
            after={"sequence": head.sequence, "hash": head.hash, "created_at": created_at, "path": str(path),
                   "certificate_sha256": signature.certificate_sha256},
        )  # fmt: skip
    return WrittenCheckpoint(checkpoint)


def _write_new_file(path: Path, data: bytes) -> None:
    """Write the whole file under a temporary name, then link it into place; an existing file is never replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# The periodic task ---------------------------------------------------------------------------


def next_run_after(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=settings.LEDGER_CHECKPOINT_INTERVAL)


def queued_checkpoint_tasks() -> int:
    """How many checkpoint tasks wait in the database queue (0 with another task backend)."""
    from django_tasks import TaskResultStatus

    from consent.tasks import ledger_checkpoint_task

    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - another task backend; it keeps its own queue
        return 0
    return DBTaskResult.objects.filter(
        task_path=ledger_checkpoint_task.module_path, status=TaskResultStatus.READY
    ).count()


def enqueue_next_checkpoint(*, run_after: datetime | None = None):
    """Queue the checkpoint task for `run_after` (default: one interval from now) unless one is queued already.

    Returns the task result, or None when a run was already queued. The task calls this itself when it
    finishes, so one start (`manage.py ledger_checkpoint --schedule`) keeps checkpoints coming.
    """
    from consent.tasks import ledger_checkpoint_task

    if queued_checkpoint_tasks():
        return None
    return ledger_checkpoint_task.using(run_after=run_after or next_run_after()).enqueue()


def schedule_checkpoints(*, actor: Actor):
    """Start the periodic checkpoint task (its first run one interval from now), with an audit-log entry.

    Returns the queued task's result, or None when one was queued already.
    """
    with transaction.atomic():
        result = enqueue_next_checkpoint()
        if result is not None:
            audit_log.record(
                actor=actor, action="ledger.checkpoint_schedule", object_type="task", object_id=result.id,
                after={"interval_seconds": settings.LEDGER_CHECKPOINT_INTERVAL},
            )  # fmt: skip
    return result
