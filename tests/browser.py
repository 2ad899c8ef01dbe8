"""A real browser for the tests: the system's Chromium driven by Playwright (its ``async`` API, on the
session's event loop). Loaded for every test module by ``pytest_plugins`` in tests/conftest.py.

- ``browser``: one headless Chromium for the session (per pytest-xdist worker), started on first
  use. Skipped, with the reason, where no Chromium binary exists (``CH_TEST_CHROMIUM`` names one,
  else ``chromium``, ``chromium-browser`` or ``google-chrome`` on PATH): Playwright's own browser
  downloads are not used, the machine's package manager installs Chromium (``.ci/run`` does).
- ``page``: a :class:`BrowserPage` in a fresh context (its own cookies and cache), 960×600, every
  wait on it bounded (15 s unless a call says otherwise). :meth:`BrowserPage.show` opens a page the
  test writes, served from loopback by the session's ``page_server``. A console error
  or an uncaught exception on the page fails the test (unless allowed with
  :meth:`BrowserPage.allow_errors`); a failing test leaves a screenshot; :meth:`BrowserPage.screenshot`
  saves one on demand. Screenshots go to ``var/screenshots/`` (``CH_TEST_SCREENSHOTS`` to change),
  named after the test.

The run's header says which Chromium the browser tests use, or why they are skipped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Response

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_MS = 15_000  # Playwright's default for every wait on the page (its own default is 30 s)


def chromium_binary() -> str | None:
    """The Chromium the browser tests drive: ``CH_TEST_CHROMIUM``, else the first on PATH."""
    named = os.environ.get("CH_TEST_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def chromium_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or out.stderr.strip()


def screenshot_dir() -> Path:
    return Path(os.environ.get("CH_TEST_SCREENSHOTS") or ROOT / "var" / "screenshots")


def pytest_report_header() -> str:
    binary = chromium_binary()
    if binary is None:
        return "browser tests: skipped, no Chromium (apt-get install chromium, or set CH_TEST_CHROMIUM)"
    return f"browser tests: {chromium_version(binary)} ({binary}); screenshots in {screenshot_dir()}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Each phase's report kept on the test, so the ``page`` fixture knows whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium binary: apt-get install chromium (or set CH_TEST_CHROMIUM)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=binary,
            headless=True,
            # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
            # --autoplay-policy: media may play without a user gesture, as a test cannot click first.
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield launched
        finally:
            await launched.close()


class PageServer:
    """Documents the tests write, served over HTTP on loopback (a thread of the test process): a
    page with an origin and an address of its own, as a web app is, apart from the API's."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[str, bytes]] = {}
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = documents.get(self.path.split("?")[0])
                if found is None:
                    self.send_error(404)
                    return
                content_type, body = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="page-server", daemon=True)

    def add(self, html: str, name: str = "page") -> str:
        """Serve ``html`` at a new path; its URL."""
        path = f"/{uuid.uuid4().hex[:12]}/{name}.html"
        self.documents[path] = ("text/html; charset=utf-8", html.encode())
        return self.url + path


@pytest.fixture(scope="session")
def page_server() -> Iterator[PageServer]:
    server = PageServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


@dataclass
class BrowserPage:
    """A Playwright page, with what happened on it: console errors, uncaught exceptions and every
    response (redirects included), in order."""

    page: Page
    name: str
    server: PageServer
    errors: list[str] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _response(self, response: Response) -> None:
        self.responses.append(response)

    def _page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")

    def allow_errors(self, pattern: str) -> None:
        """Console errors matching ``pattern`` (a regular expression) are expected: they do not fail the test."""
        self.allowed.append(re.compile(pattern))

    @property
    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    async def show(self, html: str, name: str = "page") -> str:
        """Open ``html`` served by the test's own page server (on loopback, an origin of its own);
        its URL. Served, not intercepted (``page.route``): a document Playwright fulfils has no
        network address, so Chromium's Local Network Access checks take it for a public page and
        refuse its cross-origin requests to loopback (the API's redirect to the S3 server, say)."""
        url = self.server.add(html, name)
        await self.page.goto(url)
        return url

    async def disable_cache(self) -> None:
        """Bypass the browser's HTTP cache from now on (as DevTools' "Disable cache" does): every
        byte the page reads is then a request a server answers, not a revalidated cached copy."""
        session = await self.page.context.new_cdp_session(self.page)
        await session.send("Network.enable")
        await session.send("Network.setCacheDisabled", {"cacheDisabled": True})

    async def screenshot(self, label: str, *, selector: str | None = None) -> Path:
        """A PNG of the page (or of the element ``selector`` names) as
        ``<screenshot dir>/<test name>-<label>.png``; its path."""
        directory = screenshot_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}-{label}.png"
        if selector is None:
            await self.page.screenshot(path=str(path))
        else:
            await self.page.locator(selector).screenshot(path=str(path))
        return path


def _file_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_")[:120]


@pytest.fixture
async def page(
    browser: Browser, page_server: PageServer, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserPage]:
    context = await browser.new_context(viewport={"width": 960, "height": 600})
    context.set_default_timeout(TIMEOUT_MS)
    opened = await context.new_page()
    wrapped = BrowserPage(opened, _file_name(request.node.name), page_server)
    opened.on("console", wrapped._console)
    opened.on("pageerror", wrapped._page_error)
    opened.on("response", wrapped._response)
    try:
        yield wrapped
        reports = request.node.stash.get(_REPORTS, {})
        if "call" in reports and reports["call"].failed:
            await wrapped.screenshot("failed")
        unexpected = wrapped.unexpected_errors
        if unexpected:
            await wrapped.screenshot("errors")
            pytest.fail("the page reported errors:\n" + "\n".join(unexpected), pytrace=False)
    finally:
        await context.close()
