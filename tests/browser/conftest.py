"""Browser journeys: Playwright (Python) driving Debian's Chromium against a live test server.

Playwright's own browser download does not work here, so Chromium is the system one (`apt-get install
chromium`, or CHROMIUM_PATH). Without it these tests are skipped, except under CI, where they fail.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections

SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", Path(__file__).resolve().parents[2] / "out" / "browser"))
PASSWORD = "correct horse battery"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
def browser(live_server, transactional_db, monkeypatch):
    # Started after the database is ready: started earlier (session-wide), with Playwright's event loop
    # already running in this thread, the restore of the migrations' data (serialized rollback) was skipped.
    with chromium(monkeypatch) as browser:
        yield browser


@contextmanager
def chromium(monkeypatch):
    executable = chromium_path()
    if executable is None:
        message = "Chromium is not installed: apt-get install chromium (or set CHROMIUM_PATH)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make stay synchronous.
    # Only for these tests: `check --deploy` (run by another test) rightly refuses this variable.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's loop runs, asgiref keeps this thread's database connections apart from the
            # usual ones (as a context variable); close them now, or they outlive the test database.
            connections.close_all()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def csp_violations(page):
    """What Chromium refused under the Content-Security-Policy, as its console reports it ("Refused to apply inline
    style because it violates the following Content Security Policy directive ..."); collected from the first page
    the test opens. A test asserts it empty once its journey is done."""
    refused = []

    def listen(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            refused.append(f"{message.type}: {message.text}")

    page.on("console", listen)
    return refused


@pytest.fixture
def sign_in(page, role_user):
    """sign_in("steward") signs that role's user in through the sign-in page."""

    def go(role: str):
        user = role_user(role)
        page.goto("/sign-in/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/")
        return user

    return go


@pytest.fixture
def sign_out(page):
    def go():
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/sign-in/")

    return go


@pytest.fixture
def screenshot(page, request):
    """screenshot() saves the current page as out/browser/<test name>.png (the journey's last page)."""

    def take() -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}.png"
        path.unlink(missing_ok=True)  # a file left by an earlier run must not pass for this one's
        page.screenshot(path=str(path), full_page=True)
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), f"no screenshot written to {path}"
        return path

    return take
