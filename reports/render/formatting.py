"""How the report writes its figures: one place, so that the tables, the text and the tests agree.

Scores, gaps and intervals are on the 0-1 score scale and carry four decimals (`0.1079`,
`[0.0800, 0.1363]`), as the audit commands print them; rates (selection rate, TPR, FPR, FNR) carry three;
counts have thousands separators (`3,696`); a missing figure (None) is an em dash.
"""

from datetime import UTC, datetime

DASH = "\u2014"
VERDICTS = {
    "pass": "Pass",
    "fail": "Fail",
    "inconclusive": "Inconclusive",
    "insufficient": "Insufficient",
    "": "Not judged",
}
ACTIONS = {"generated": "Generated", "reviewed": "Reviewed", "approved": "Approved"}


def number(value, digits: int = 4) -> str:
    """`0.1079`; None as a dash."""
    if value is None:
        return DASH
    return f"{float(value):.{digits}f}"


def level(value) -> str:
    """A threshold with as many decimals as it has, at least two: `0.05`, `0.50`, `0.025`."""
    if value is None:
        return DASH
    text = f"{float(value):.6f}".rstrip("0")
    decimals = len(text.partition(".")[2])
    return f"{float(value):.{max(2, decimals)}f}"


def rate(value) -> str:
    return number(value, 3)


def interval(pair, digits: int = 4) -> str:
    """`[0.0800, 0.1363]`; an interval with no bounds as a dash."""
    if pair is None or all(bound is None for bound in pair):
        return DASH
    low, high = pair
    return f"[{number(low, digits)}, {number(high, digits)}]"


def count(value) -> str:
    """`3,696`; None as a dash."""
    if value is None:
        return DASH
    return f"{int(value):,}"


def percent(value, digits: int = 1) -> str:
    """A share in 0-1 as `97.4%`."""
    if value is None:
        return DASH
    return f"{float(value) * 100:.{digits}f}%"


def small(value) -> str:
    """A tiny quantity (a difference, a tolerance) as `9.6e-11`."""
    if value is None:
        return DASH
    return f"{float(value):.2g}"


def confidence(value) -> str:
    """0.95 as `95%`."""
    return f"{float(value) * 100:g}%"


def verdict_label(verdict) -> str:
    return VERDICTS.get(verdict or "", str(verdict).capitalize())


def verdict_class(verdict) -> str:
    return verdict if verdict in VERDICTS and verdict else "none"


def when(value) -> str:
    """An ISO 8601 time as `25 Nov 2026, 10:00 UTC`; anything else as given."""
    if not value:
        return DASH
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%d %b %Y, %H:%M")
    offset = moment.utcoffset()
    if not offset:
        return moment.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")
    return moment.strftime("%d %b %Y, %H:%M UTC%z")


def total(counts) -> str:
    """The sum of a dict's counts (`{"consent withdrawn": 21, "erased": 4}` -> `25`)."""
    return count(sum(counts.values()))


def action_label(action) -> str:
    return ACTIONS.get(action, str(action).capitalize())


FILTERS = {
    "number": number,
    "rate": rate,
    "level": level,
    "interval": interval,
    "integer": count,
    "percent": percent,
    "small": small,
    "confidence": confidence,
    "verdict_label": verdict_label,
    "verdict_class": verdict_class,
    "when": when,
    "action_label": action_label,
    "total": total,
}
