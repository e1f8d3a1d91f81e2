"""The per-item scores of an audit run as CSV that is safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with =, +, -, @, a tab or a carriage return as a formula
(CSV injection), so every such text cell gets a leading single quote. Numbers are written as
numbers and left as they are: they are data, not text a spreadsheet would parse, and quoting them
would turn them into text. Here the numbers are item ids (positive) and scores (0 to 1), so no
negative number arises; a value that only looks like one, such as an item reference "-12", is
text and is quoted.

Protected-attribute values (the item's groups) are in the file only for a user who may read
item-level attributes; that read goes through consent.selectors.item_attributes, which logs it.
For everyone else the file has ids, references and scores only (and no stratum, which is made of
the same values).
"""

import csv
from collections.abc import Iterable, Iterator

from audit.models import AuditRun
from audit.policies import column_name
from consent.selectors import PROTECTED_ATTRIBUTES_PERMISSION, item_attributes, items_by_id
from core.audit_log import Actor
from scoring.selectors import score_batches, scored_item_ids

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell):
    """A text cell that a spreadsheet would read as a formula, quoted; anything else unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


class _Line:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, text: str) -> str:
        return text


def csv_lines(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\r\n")
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


def may_see_groups(user) -> bool:
    return user.has_perm(PROTECTED_ATTRIBUTES_PERMISSION)


def score_rows(run: AuditRun, *, actor: Actor, with_groups: bool, batch_size: int = 10_000) -> Iterator[list]:
    """Header, then one row per scored item: item_id, item_ref, score, selected (and the groups, when allowed).

    The artifact's hash is checked and the attributes are read (and logged) before this returns,
    so a failure is raised here, not halfway through a download.
    """
    batches = score_batches(run.score_artifact, batch_size=batch_size)
    entries = run.policy.attributes
    header = ["item_id", "item_ref", "score", "selected"]
    groups_of: dict[int, list[str]] = {}
    if with_groups:
        header += ["stratum", *[column_name(e) for e in entries]]
        groups_of = _groups(run, entries, actor)
    return _rows(header, batches, run.policy.decision_threshold, groups_of if with_groups else None)


def _groups(run: AuditRun, entries: list[dict], actor: Actor) -> dict[int, list[str]]:
    """The groups of the scored items only: members left out (withdrawn since the freeze) are not read."""
    scored = scored_item_ids(run.score_artifact)
    attributes = item_attributes(actor=actor, items=items_by_id(scored))
    schema = run.evaluation_set.dataset.attribute_schema.rules()
    groups = {}
    for item_id, values in attributes.items():
        row = []
        for entry in entries:
            value = (values or {}).get(entry["attribute"], "")
            if value and entry.get("banding"):
                value = schema.attributes[entry["attribute"]].band_of(entry["banding"], value)
            row.append(value)
        groups[item_id] = row
    return groups


def _rows(header, batches, decision_threshold: float, groups_of: dict | None) -> Iterator[list]:
    yield header
    blank = [""] * (len(header) - 5)
    for batch in batches:
        columns = batch.to_pydict()
        for item_id, item_ref, stratum, score in zip(
            columns["item_id"], columns["item_ref"], columns["stratum"], columns["score"], strict=True
        ):
            row = [item_id, item_ref, score, int(score >= decision_threshold)]
            if groups_of is not None:
                row += [stratum, *groups_of.get(item_id, blank)]
            yield row
