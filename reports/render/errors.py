"""The one error rendering raises, and the context wrapper that makes a missing figure name itself."""

from collections.abc import Mapping

MISSING_KEY = "the report context has no {key!r}"
MISSING_KEY_AT = "the report context has no {key!r} (in {path})"
NOT_A_MAPPING = "the report context is not a dict: got {kind}"


class RenderError(Exception):
    """The context cannot be rendered: a figure is missing or malformed. The message names what and where."""


class MissingKey(RenderError, KeyError):
    """A key the report needs is not in the context.

    A `KeyError` too, so that Jinja2 turns it into an undefined value (and `is defined` tests still work);
    a `RenderError`, so that Python code reading the context (the charts) fails with the same message.
    """

    def __init__(self, key: str, path: str):
        message = MISSING_KEY_AT.format(key=key, path=path) if path else MISSING_KEY.format(key=key)
        super().__init__(message)
        self.key, self.path = key, path

    def __str__(self) -> str:
        return self.args[0]


class TrackedDict(dict):
    """A dict that knows where it is in the context (`runs[0].attributes[1].gap`) and says so when a key is missing."""

    __slots__ = ("context_path",)

    def __missing__(self, key):
        raise MissingKey(key, self.context_path)


class TrackedList(list):
    __slots__ = ("context_path",)


def track(value, path: str = ""):
    """A copy of `value` whose dicts and lists carry their path; leaves (numbers, strings, None) are shared."""
    if isinstance(value, Mapping):
        tracked = TrackedDict((key, track(item, f"{path}.{key}" if path else str(key))) for key, item in value.items())
        tracked.context_path = path
        return tracked
    if isinstance(value, list | tuple):
        tracked = TrackedList(track(item, f"{path}[{index}]") for index, item in enumerate(value))
        tracked.context_path = path
        return tracked
    return value
