"""The web app at /app and GraphiQL at /graphql (docs/web-app.md), through the real ASGI app and in
a real Chromium.

- The vendored libraries are the published packages' files: each vendor folder holds exactly what
  its manifest lists, every file with the sha256 the manifest pins (scripts/vendor_frontend.py).
- The first load is under 300 KB compressed, measured as the server sends it (gzip): index.html,
  the CSS it links and every module js/main.js reaches by static imports; and all of the app's
  files together are under it too, whichever screen (a lazily imported module) opens first.
- The one-click development sign-in answers only a development server asked from this machine by a
  page of this machine: not in production or test, not to another peer, not under a Host that is
  not loopback (DNS rebinding), not to a page of another origin.
- GraphiQL: our page from vendored files (nothing from another host), in development only.
- In Chromium: sign in with a key, stay signed in on reload, not in another context (the
  credential is the tab's), sign out; GraphiQL signed in as the app's tab, its query answered,
  every request to the server's own origin. Screenshots: var/screenshots/.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from services.settings import Settings
from tests.browser import BrowserPage
from tests.stack import Stack
from web.app import create_app
from web.frontend import APP_DIR, DEMO_TEAM_FILE, GRAPHIQL_DIR

VENDOR_DIRS = (APP_DIR / "vendor", GRAPHIQL_DIR / "vendor")
BUDGET_BYTES = 300 * 1024
DEMO_KEY = "chk_demo_team_key_for_the_test"
LOOPBACK = ("127.0.0.1", 50123)


# -- the vendored files ---------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDOR_DIRS, ids=lambda p: str(p.relative_to(APP_DIR.parent)))
def test_vendored_files_are_exactly_the_manifests(vendor: Path) -> None:
    manifest = json.loads((vendor / "manifest.json").read_text())
    listed: dict[str, str] = {}
    for package in manifest["packages"]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"]), package  # pinned, no range
        assert package["integrity"].startswith("sha512-"), package["name"]
        for dest, entry in package["files"].items():
            listed[dest] = entry["sha256"]
    files = {str(path.relative_to(vendor)) for path in vendor.rglob("*") if path.is_file()}
    present = files - {"manifest.json"}
    assert present == set(listed), f"unlisted: {present - set(listed)}, missing: {set(listed) - present}"
    for dest, sha256 in listed.items():
        assert hashlib.sha256((vendor / dest).read_bytes()).hexdigest() == sha256, f"{dest} was changed"


# -- the first load ------------------------------------------------------------------------------
def _app(env: str, data_dir: Path, **overrides: Any) -> Any:
    settings = Settings(env=env, data_dir=data_dir, **overrides)  # type: ignore[arg-type]
    front = create_app(settings)
    front.app.state.services = SimpleNamespace(settings=settings)  # no lifespan: nothing to connect to
    return front


@contextlib.asynccontextmanager
async def _client(
    env: str,
    data_dir: Path,
    client: tuple[str, int] = LOOPBACK,
    host: str = "127.0.0.1:8000",
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(env, data_dir, **overrides), client=client)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as http:
        yield http


async def _compressed(http: httpx.AsyncClient, path: str) -> tuple[int, bytes]:
    """What the server sends for ``path`` to a browser accepting gzip: (bytes on the wire, body)."""
    async with http.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200, path
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        if len(raw) > 1024:  # a small file goes as it is (GZipMiddleware's minimum_size)
            assert response.headers.get("content-encoding") == "gzip", path
    plain = (await http.get(path)).content
    return len(raw), plain


# A statement (at a line's start or after ; or }) importing or re-exporting from a specifier; not
# ``import("…")`` (lazy), nor the words in a string ("`import WebSocket from 'ws'`" in graphql-ws).
STATIC_IMPORT = re.compile(
    r"""(?:^|[;}])\s*(?:import|export)\s*(?:[\w*${}\s,]+?\s*from\s*)?["']([^"']+)["']""", re.M
)


def _static_imports(source: str) -> list[str]:
    """The specifiers of a module's static imports and re-exports (``import("…")`` is lazy: left out)."""
    return STATIC_IMPORT.findall(source)


async def test_the_first_load_is_under_300_kb_compressed(tmp_path: Path) -> None:
    async with _client("development", tmp_path) as http:
        sizes: dict[str, int] = {}
        size, index = await _compressed(http, "/app/")
        sizes["/app/"] = size
        html = index.decode()
        import_map = json.loads(
            re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)  # type: ignore[union-attr]
        )["imports"]
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
        entries = re.findall(r'<script type="module" src="([^"]+)"', html)
        assert styles and entries == ["/app/js/main.js"]
        for path in styles:
            sizes[path] = (await _compressed(http, path))[0]
        pending, seen = list(entries), set(entries)
        while pending:
            path = pending.pop()
            size, source = await _compressed(http, path)
            sizes[path] = size
            for specifier in _static_imports(source.decode()):
                target = import_map.get(specifier) or urljoin(path, specifier)
                assert target.startswith("/app/"), (path, specifier)
                if target not in seen:
                    seen.add(target)
                    pending.append(target)
        # the graph really was walked: the shell, its libraries and graphql-ws's shared chunk
        assert {"/app/js/api.js", "/app/vendor/preact.mjs", "/app/vendor/graphql-ws/client.js"} <= seen
        assert any("graphql-ws/common" in path for path in seen)
        assert not any("/screens/" in path for path in seen)  # screens are lazily imported
        first_load = sum(sizes.values())
        print(f"first load: {len(sizes)} files, {first_load} bytes compressed")
        assert first_load < BUDGET_BYTES, sizes

        # Every file of the app, compressed as served: whichever screen opens first, under the budget.
        every = 0
        for path in sorted(p for p in APP_DIR.rglob("*") if p.is_file()):
            every += (await _compressed(http, "/app/" + str(path.relative_to(APP_DIR))))[0]
        print(f"all app files: {every} bytes compressed")
        assert every < BUDGET_BYTES, every


# -- the development sign-in ------------------------------------------------------------------------
def _demo_team(data_dir: Path) -> None:
    (data_dir / DEMO_TEAM_FILE).write_text(json.dumps({"api_key": DEMO_KEY}))


async def _dev_session(http: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await http.post("/app/dev-session", headers=headers)


async def test_the_demo_sign_in_answers_a_development_server_on_this_machine(tmp_path: Path) -> None:
    _demo_team(tmp_path)
    for peer, host in (
        (LOOPBACK, "127.0.0.1:8000"),
        (("::1", 50123), "[::1]:8000"),
        (LOOPBACK, "localhost:8000"),
    ):
        async with _client("development", tmp_path, client=peer, host=host) as http:
            answer = await _dev_session(http, origin=f"http://{host}")
            assert answer.status_code == 200, (peer, host, answer.text)
            assert answer.json() == {"credential": DEMO_KEY}
            assert answer.headers["cache-control"] == "no-store"
            assert (await _dev_session(http)).json() == {"credential": DEMO_KEY}  # no Origin: not a page
            assert (await http.get("/app/config.json")).json() == {"devSignIn": True}


@pytest.mark.parametrize(
    ("case", "env", "peer", "host", "origin"),
    [
        ("production", "production", LOOPBACK, "127.0.0.1:8000", None),
        ("test", "test", LOOPBACK, "127.0.0.1:8000", None),
        ("another machine", "development", ("192.168.1.20", 40000), "127.0.0.1:8000", None),
        ("a public peer", "development", ("203.0.113.7", 40000), "127.0.0.1:8000", None),
        ("rebinding: a host name", "development", LOOPBACK, "evil.example:8000", "http://evil.example:8000"),
        ("rebinding: no Origin", "development", LOOPBACK, "evil.example:8000", None),
        ("a LAN address as Host", "development", LOOPBACK, "192.168.1.5:8000", None),
        ("a foreign page", "development", LOOPBACK, "127.0.0.1:8000", "http://evil.example"),
        ("another port", "development", LOOPBACK, "127.0.0.1:8000", "http://127.0.0.1:9999"),
        ("an opaque origin", "development", LOOPBACK, "127.0.0.1:8000", "null"),
    ],
)
async def test_the_demo_sign_in_refuses(
    tmp_path: Path, case: str, env: str, peer: tuple[str, int], host: str, origin: str | None
) -> None:
    _demo_team(tmp_path)
    overrides: dict[str, Any] = {}
    if env == "production":
        overrides = {
            "secret_key": "s" * 48,
            "database_url": "postgres://nobody@127.0.0.1:1/none",
            "redis_url": "redis://127.0.0.1:1/0",
        }
    async with _client(env, tmp_path, client=peer, host=host, **overrides) as http:
        headers = {"origin": origin} if origin else {}
        answer = await _dev_session(http, **headers)
        assert answer.status_code == 403, (case, answer.text)
        assert answer.json()["code"] == "FORBIDDEN"
        assert DEMO_KEY not in answer.text
        config = await http.get("/app/config.json", headers=headers)
        assert config.status_code == 200 and config.json() == {"devSignIn": False}, case


async def test_no_demo_team_no_demo_sign_in(tmp_path: Path) -> None:
    async with _client("development", tmp_path) as http:
        assert (await _dev_session(http)).status_code == 403
        assert (await http.get("/app/config.json")).json() == {"devSignIn": False}


# -- GraphiQL ----------------------------------------------------------------------------------
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_graphiql_is_our_page_from_our_files(tmp_path: Path) -> None:
    async with _client("development", tmp_path) as http:
        page = await http.get("/graphql", headers=BROWSER)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert not [u for u in urls if "//" in u], urls  # nothing from another host
        assets = [u for u in urls if u.startswith("/graphiql/")]
        assert len(assets) >= 5, assets
        for url in assets:
            assert (await http.get(url)).status_code == 200, url
        # each vendored file it loads is a manifest's (checked byte for byte above)
        listed = json.loads((GRAPHIQL_DIR / "vendor" / "manifest.json").read_text())["packages"]
        names = {dest for package in listed for dest in package["files"]}
        assert {u.removeprefix("/graphiql/vendor/") for u in assets if "/vendor/" in u} <= names
        # queries over GET still answer as GraphQL, not with the page
        query = await http.get(
            "/graphql", params={"query": "{ __typename }"}, headers={"Accept": "application/json"}
        )
        assert query.headers["content-type"].startswith("application/json")


async def test_graphiql_path_leads_to_graphiql(tmp_path: Path) -> None:
    """People type /graphiql: it (and /graphiql/, a folder without a file) leads to GraphiQL at
    /graphql instead of a bare Not Found; the files under /graphiql/ are still served."""
    async with _client("development", tmp_path) as http:
        for path in ("/graphiql", "/graphiql/"):
            moved = await http.get(path, headers=BROWSER)
            assert moved.status_code == 307 and moved.headers["location"] == "/graphql", (path, moved)
            page = await http.get(path, headers=BROWSER, follow_redirects=True)
            assert page.status_code == 200 and "graphiql.js" in page.text, path
        assert (await http.get("/graphiql/graphiql.js")).status_code == 200


@pytest.mark.parametrize("env", ["test", "production"])
async def test_graphiql_is_for_development_only(tmp_path: Path, env: str) -> None:
    overrides: dict[str, Any] = {}
    if env == "production":
        overrides = {
            "secret_key": "s" * 48,
            "database_url": "postgres://nobody@127.0.0.1:1/none",
            "redis_url": "redis://127.0.0.1:1/0",
        }
    async with _client(env, tmp_path, **overrides) as http:
        page = await http.get("/graphql", headers=BROWSER)
        assert "GraphiQL" not in page.text
        assert (await http.get("/graphiql/graphiql.js")).status_code == 404
    async with _client("development", tmp_path, graphiql=False) as http:
        assert "GraphiQL" not in (await http.get("/graphql", headers=BROWSER)).text


# -- in Chromium -------------------------------------------------------------------------------
async def _team_name(stack: Stack, team: Any) -> str:
    return str((await stack.data(team, "{ viewer { teamName } }"))["viewer"]["teamName"])


async def _sign_in(page: BrowserPage, stack: Stack, api_key: str) -> None:
    await page.page.goto(stack.url + "/app/")
    await page.page.get_by_label("API key or token").fill(api_key)
    await page.page.get_by_role("button", name="Sign in", exact=True).click()


async def test_sign_in_lasts_the_tab_and_only_the_tab(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(1_000)
    name = await _team_name(stack, team)
    await _sign_in(page, stack, team.api_key)
    header = page.page.locator("header.top")
    await header.get_by_text(name).wait_for()
    await page.screenshot("signed-in")

    await page.page.reload()  # the tab's session keeps the credential
    await header.get_by_text(name).wait_for()
    assert await page.page.evaluate("() => localStorage.length") == 0  # never beyond the tab

    other = await page.page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        another = await other.new_page()
        await another.goto(stack.url + "/app/")
        await another.get_by_label("API key or token").wait_for()
        assert await another.locator("header.top").count() == 0
    finally:
        await other.close()

    await header.get_by_role("button", name="Sign out").click()
    await page.page.get_by_label("API key or token").wait_for()
    assert await page.page.evaluate("() => sessionStorage.getItem('creative-hub.credential')") is None
    await page.page.reload()
    await page.page.get_by_label("API key or token").wait_for()
    await page.screenshot("signed-out")


async def test_a_screen_opened_offline_says_so_and_opens_when_back(page: BrowserPage, stack: Stack) -> None:
    """Offline, a screen not loaded yet cannot be imported: the page says so in words (not the
    import's error above the previous screen remounted under the new address) and opens it by
    itself once the network is back."""
    team = stack.create_team(1_000)
    await _sign_in(page, stack, team.api_key)
    p = page.page
    await p.get_by_role("heading", name="Jobs", exact=True).wait_for()
    page.allow_errors("ERR_INTERNET_DISCONNECTED|Failed to fetch dynamically imported module")
    await p.context.set_offline(True)
    await p.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    await p.get_by_text("This screen could not be loaded").wait_for()
    assert await p.get_by_text("dynamically imported").count() == 0
    assert await p.get_by_role("heading", name="Jobs", exact=True).count() == 0
    await page.screenshot("screen-offline")
    await p.context.set_offline(False)
    await p.get_by_role("heading", name="Billing", level=1).wait_for()
    await page.screenshot("screen-back-online")


HEADERS_EDITORS = """() => [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]
  .map((e) => e.CodeMirror.getValue())"""
RESULT_SHOWS = """(text) => (document.querySelector('.result-window')?.innerText || '').includes(text)"""


async def test_graphiql_is_signed_in_as_the_tab_and_stays_on_this_server(
    page: BrowserPage, stack: Stack
) -> None:
    team = stack.create_team(1_000)
    name = await _team_name(stack, team)
    requested: list[str] = []
    page.page.on("request", lambda request: requested.append(request.url))
    page.page.on("websocket", lambda socket: requested.append(socket.url))
    await _sign_in(page, stack, team.api_key)
    await page.page.locator("header.top").get_by_text(name).wait_for()

    await page.page.get_by_role("link", name="GraphiQL").click()  # as a person goes there
    await page.page.wait_for_url(stack.url + "/graphql")
    await page.page.locator(".graphiql-container").wait_for()
    await page.page.get_by_text(f"Signed in as {name}").wait_for()
    editors = await page.page.evaluate(HEADERS_EDITORS)
    filled = [json.loads(text) for text in editors if "Authorization" in text]
    assert filled == [{"Authorization": f"Bearer {team.api_key}"}], editors

    query_editor = page.page.locator(".graphiql-query-editor .CodeMirror")
    await query_editor.click()
    await page.page.keyboard.press("Control+A")
    await page.page.keyboard.press("Delete")
    await page.page.keyboard.type("{ viewer { teamName ")  # the editor closes the braces
    await page.page.get_by_role("button", name=re.compile("Execute query")).click()
    await page.page.wait_for_function(RESULT_SHOWS, arg=f'"teamName": "{name}"')
    await page.screenshot("graphiql")

    # the credential stays in the tab's session: GraphiQL did not write it to localStorage
    stored = await page.page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
    assert team.api_key not in stored
    origin = stack.url
    ws_origin = origin.replace("http://", "ws://", 1)
    away = [u for u in requested if not u.startswith((origin + "/", ws_origin + "/", "data:"))]
    assert not away, away
    assert any(u.startswith(origin + "/graphiql/vendor/graphiql.min.js") for u in requested), requested
