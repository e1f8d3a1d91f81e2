"""The Jinja2 environment of our pages: strict about missing values, autoescaped, with Django's helpers."""

import re
from datetime import UTC

from django.contrib.messages import get_messages
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django_htmx.jinja import htmx_script
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

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


_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
_UNIVERSAL_RULE = re.compile(r'<style[^>]*>\s*\*\s*\{([^}]*)\}\s*</style>')
_SVG_OPEN = re.compile(r"<svg\b")
_DECLARATION = re.compile(r"^\s*([a-z-]+)\s*:\s*(.*?)\s*$")


def _attributes(declarations: str) -> str:
    pairs = (_DECLARATION.match(part) for part in declarations.split(";") if part.strip())
    return "".join(f' {m.group(1)}="{m.group(2)}"' for m in pairs if m)


def svg_without_styles(svg) -> Markup:
    """Our own inline SVG chart (reports.render.charts, drawn by matplotlib) with its CSS turned into SVG
    presentation attributes, which the Content-Security-Policy allows: `style="fill: #fff"` becomes `fill="#fff"`,
    and the universal rule matplotlib puts in <defs> goes on the root <svg> (where those properties inherit).
    Every property matplotlib writes (fill, stroke*, font-size, font-family, text-anchor, ...) is one."""
    text = str(svg)
    universal = _UNIVERSAL_RULE.search(text)
    if universal:
        text = _UNIVERSAL_RULE.sub("", text, count=1)
        text = _SVG_OPEN.sub(lambda m: m.group(0) + _attributes(universal.group(1)), text, count=1)
    text = _STYLE_ATTRIBUTE.sub(lambda m: _attributes(m.group(1)), text)
    return Markup(text)  # noqa: S704 - our own chart; only its attribute syntax changes


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
    env.filters.update(local_time=local_time, number=number, exact=exact, svg_without_styles=svg_without_styles)
    return env
