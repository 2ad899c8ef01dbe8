"""The browser fixtures' own promises (tests/browser.py), checked on a pytest run of their own: a
console error or an uncaught exception on the page fails the test that caused it, an allowed one
does not, a failing test leaves a screenshot, and ``screenshot()`` saves a PNG named after the test."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.browser import ROOT, chromium_binary

pytest_plugins = ("pytester",)

INNER = """
from tests.browser import BrowserPage

async def test_console_error(page: BrowserPage) -> None:
    async with page.page.expect_console_message():
        await page.show("<script>console.error('boom')</script><p>x</p>")

async def test_uncaught_exception(page: BrowserPage) -> None:
    await page.show("<script>setTimeout(() => { throw new Error('kaput') }, 0)</script>")
    await page.page.wait_for_function("true")  # the timer has run by the next evaluation

async def test_allowed_console_error(page: BrowserPage) -> None:
    page.allow_errors("expected boom")
    async with page.page.expect_console_message():
        await page.show("<script>console.error('expected boom')</script>")

async def test_failing(page: BrowserPage) -> None:
    await page.show("<h1>a failing test</h1>")
    assert False, "meant to fail"

async def test_screenshot(page: BrowserPage) -> None:
    await page.show("<h1 id='title' style='color: rgb(200, 0, 0)'>Hello</h1>")
    assert (await page.screenshot("whole")).name == "test_screenshot-whole.png"
    assert (await page.screenshot("title", selector="#title")).exists()
"""


@pytest.mark.skipif(chromium_binary() is None, reason="no Chromium binary: apt-get install chromium")
def test_the_page_fixture_fails_on_page_errors_and_keeps_screenshots(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    shots = pytester.path / "shots"
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    )
    pytester.makepyfile(test_inner=INNER)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the inner run imports tests.browser
    monkeypatch.setenv("CH_TEST_SCREENSHOTS", str(shots))
    result = pytester.runpytest_subprocess("-p", "tests.browser", "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=4, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_console_error*",
            "*console error: boom*",
            "*ERROR at teardown of test_uncaught_exception*",
            "*uncaught: *kaput*",
        ]
    )
    names = sorted(p.name for p in shots.iterdir())
    assert names == [
        "test_console_error-errors.png",
        "test_failing-failed.png",
        "test_screenshot-title.png",
        "test_screenshot-whole.png",
        "test_uncaught_exception-errors.png",
    ]
    with Image.open(shots / "test_screenshot-whole.png") as whole:
        assert whole.size == (960, 600)  # the page's viewport
    with Image.open(shots / "test_screenshot-title.png") as title:
        assert title.size[0] < 960  # the element alone
