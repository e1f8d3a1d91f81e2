"""DEBUG is off unless turned on, and every page carries a Content-Security-Policy it works under (issue 13, part 7).

tests/browser/test_data_steward_journey.py checks in Chromium that pages load and htmx swaps under the policy
with no violation in the console.
"""

import re
from pathlib import Path

import pytest

from config.jinja2 import svg_without_styles
from tests.config.test_settings import manage, production

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# Templates of the PDF (WeasyPrint), which no browser loads under the policy.
PDF_TEMPLATES = ("reports/quarterly.html", "reports/_macros.html", "reports/sections/")


def test_it_is_not_in_debug_mode_without_debug_in_the_environment(tmp_path):
    shown = manage(tmp_path, "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", **production())
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == "False"


def test_only_the_development_server_targets_turn_debug_on():
    makefile = (ROOT / "Makefile").read_text()
    targets, current = {}, None
    for line in makefile.splitlines():
        if match := re.match(r"^([a-z-]+):", line):
            current = match.group(1)
        elif line.startswith("\t") and "DEBUG=" in line:
            targets.setdefault(current, []).append(line.strip())
    on = {target for target, lines in targets.items() if any(re.search(r"\bDEBUG=(1|\$\$\{DEBUG:-1\})", x) for x in lines)}
    assert on == {"serve", "serve-demo", "bench"}


def csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize(("role", "path"), [(None, "/sign-in/"), ("steward", "/"), ("steward", "/consent/subjects/"),
                                             ("steward", "/account/"), ("officer", "/audit/runs/")])
def test_every_page_carries_a_policy_of_this_origin_only_without_inline_code(client_as, role, path):
    answer = client_as(role).get(path)
    assert answer.status_code == 200
    policy = csp(answer)
    for directive in ("default-src", "script-src", "style-src", "img-src"):
        assert policy[directive] == ["'self'"], (directive, policy)
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in answer["Content-Security-Policy"]


def test_the_503_page_carries_the_policy_too(client):
    from django.db import OperationalError, connection

    def locked(*args):
        raise OperationalError("database is locked")

    with connection.execute_wrapper(locked):
        answer = client.get("/healthz")
    assert answer.status_code == 503 and csp(answer)["default-src"] == ["'self'"]


def page_templates():
    for path in sorted((ROOT / "templates").rglob("*.html")):
        name = path.relative_to(ROOT / "templates").as_posix()
        if not name.startswith(PDF_TEMPLATES):
            yield pytest.param(path, id=name)


@pytest.mark.parametrize("path", list(page_templates()))
def test_no_page_template_has_inline_script_or_style(path):
    text = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"<style\b", text), "inline <style>"
    assert not re.search(r"\sstyle=", text), "style attribute"
    assert not re.search(r"\son[a-z]+=", text), "event handler attribute"
    assert "javascript:" not in text and "hx-on" not in text


def test_htmx_is_told_not_to_inject_its_indicator_style_nor_to_eval():
    base = (ROOT / "templates" / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base and '"allowEval": false' in base
    assert ".htmx-request .htmx-indicator" in (ROOT / "static" / "css" / "app.css").read_text()


def test_an_inline_chart_keeps_its_look_as_presentation_attributes():
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><defs><style type="text/css">*{stroke-linejoin: round; '
        'stroke-linecap: butt}</style></defs><path d="M 0 0" style="fill: #dfe8f1; stroke: #8fa9c4; '
        "stroke-width: 0.6\"/><text style=\"font-size: 7px; font-family: 'DejaVu Sans'; text-anchor: end\">a</text></svg>"
    )
    assert str(svg_without_styles(svg)) == (
        '<svg stroke-linejoin="round" stroke-linecap="butt" xmlns="http://www.w3.org/2000/svg"><defs></defs>'
        '<path d="M 0 0" fill="#dfe8f1" stroke="#8fa9c4" stroke-width="0.6"/>'
        "<text font-size=\"7px\" font-family=\"'DejaVu Sans'\" text-anchor=\"end\">a</text></svg>"
    )
