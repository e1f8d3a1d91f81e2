"""The Jinja2 environment of our pages: strict about missing values, autoescaped, with Django's helpers."""

from datetime import UTC

from django.contrib.messages import get_messages
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django_htmx.jinja import htmx_script
from jinja2 import Environment, StrictUndefined

from core.navigation import navigation_for


def url(name: str, *args, **kwargs) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


def local_time(value, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    if value is None:
        return "—"
    return timezone.localtime(value, UTC).strftime(fmt) if hasattr(value, "tzinfo") else str(value)


def number(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def exact(value) -> str:
    """A policy value as it was set (0.025 stays 0.025), not rounded to a display precision."""
    return "—" if value is None else f"{value:g}"


def environment(**options) -> Environment:
    options["undefined"] = StrictUndefined
    env = Environment(**options)  # noqa: S701 - Django's backend turns autoescape on
    env.globals.update(
        url=url,
        static=static,
        htmx_script=htmx_script,
        messages=get_messages,
        navigation_for=navigation_for,
    )
    env.filters.update(local_time=local_time, number=number, exact=exact)
    return env
