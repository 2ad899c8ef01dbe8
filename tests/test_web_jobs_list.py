"""The Jobs panel's windowed list (web/static/app/js/screens/jobs.js) in a real Chromium against a
mocked API (the app's own files, served as bench/web_jobs_list.py serves them; the API answers
from a list of generated jobs, 50 a page):

- After a dropped connection every loaded page is read again: the user has scrolled three pages
  down; the websocket drops; while it is down a job on the third page fails and a new one is
  submitted; when the socket is back the panel shows both without a reload.
- A jump far down the list (a fast scroll) draws the rows it mounts light, then completes them
  (thumbnail, actions) in place once the scroll settles.

(The end-to-end network drop against the running stack is the e2e tests' work; these pin the
list's own behaviour.) Screenshots: var/screenshots/test_web_jobs_list_*."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import WebSocketRoute, expect

from bench.web_jobs_list import ORIGIN, Live, make_jobs, mock
from tests.browser import BrowserPage

ROW_HEIGHT = 80  # the desktop row (jobs.js useRowHeight)


def _graphql_reads(page: BrowserPage) -> list[dict[str, Any]]:
    return [json.loads(r.request.post_data or "{}") for r in page.responses if r.url.endswith("/graphql")]


async def test_after_a_reconnection_every_loaded_page_is_read_again(page: BrowserPage) -> None:
    jobs = make_jobs(160)
    live = Live()
    await mock(page.page, jobs, live)
    await page.page.add_init_script("sessionStorage.setItem('creative-hub.credential', 'test')")
    await page.page.set_viewport_size({"width": 1280, "height": 900})
    p = page.page
    await p.goto(ORIGIN + "/app/#/jobs")
    await p.wait_for_selector(".job-row")
    # scroll until three pages (150 jobs) are loaded, then to job 120 (a completed one, page 3)
    foot = p.locator(".list-foot")
    while not (await foot.inner_text()).startswith(("150 jobs", "160 jobs")):
        await p.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        await p.wait_for_timeout(50)
    target = jobs[120]
    assert target["status"] == "COMPLETED"
    top = await p.evaluate("document.querySelector('.job-list').getBoundingClientRect().top + scrollY")
    await p.evaluate(f"window.scrollTo(0, {top + 120 * ROW_HEIGHT - 300})")
    row = p.locator(f'.job-row[data-job-id="{target["id"]}"]')
    await expect(row.locator(".badge")).to_have_text("Completed")

    # the socket drops; meanwhile job 120 fails and a new job is submitted
    assert live.subs, "the panel subscribed to jobsUpdated"
    dropped: list[WebSocketRoute] = [ws for ws, _ in live.subs]
    live.subs.clear()
    jobs[120] = target | {
        "status": "FAILED",
        "version": target["version"] + 5,
        "errorMessage": "the provider could not complete this job; nothing was charged",
        "outputs": [],
        "costCents": 0,
    }
    newest = make_jobs(1)[0] | {
        "id": "job-new",
        "prompt": "Submitted while the panel was offline",
        "createdAt": (datetime.fromisoformat(jobs[0]["createdAt"]) + timedelta(minutes=1)).isoformat(),
    }
    jobs.insert(0, newest)
    before = len(_graphql_reads(page))
    for ws in {id(ws): ws for ws in dropped}.values():
        await ws.close(code=1012, reason="Service restart")

    # back: the row far down is right, and the new job is at the top, without a reload
    await expect(row.locator(".badge")).to_have_text("Failed", timeout=15_000)
    await page.screenshot("row-resynced-after-reconnect")
    reads = [r for r in _graphql_reads(page)[before:] if "jobs(" in r.get("query", "")]
    resync = [r["variables"]["after"] for r in reads if r["variables"].get("first") == 100]
    assert resync == [None, "100"], reads  # from the top, in pages of 100, past every loaded row
    await p.evaluate("window.scrollTo(0, 0)")
    await expect(p.locator('.job-row[data-job-id="job-new"]')).to_be_visible()
    await expect(foot).to_have_text("161 jobs.")  # 150 loaded: read again in two pages of 100, all 161


@pytest.mark.parametrize("read_first_ms", [0, 2000], ids=["at-once", "after-reading-the-top"])
async def test_rows_mounted_by_a_fast_scroll_are_completed_once_it_settles(
    page: BrowserPage, read_first_ms: int
) -> None:
    jobs = make_jobs(200)
    await mock(page.page, jobs, Live())
    await page.page.add_init_script("sessionStorage.setItem('creative-hub.credential', 'test')")
    await page.page.set_viewport_size({"width": 1280, "height": 900})
    p = page.page
    await p.goto(ORIGIN + "/app/#/jobs")
    await p.wait_for_selector(".job-row")
    # the panel is set up (its first page read, its subscription live): a jump now is the user's
    await expect(p.locator("header.top .conn")).to_have_text("Live")
    await expect(p.locator(".list-foot")).to_contain_text("jobs")
    target = jobs[40]  # completed, with an image: a thumbnail and Download / Regenerate / Winner
    assert target["status"] == "COMPLETED" and target["type"] == "IMAGE"
    # someone reads the top rows for a while, then jumps (End, a dragged scrollbar): the jump is as
    # fast after a pause as at once (its speed is not spread over the time spent reading)
    if read_first_ms:
        await p.wait_for_timeout(read_first_ms)
    # one frame that jumps 40 rows: far faster than anyone reads. The row is looked at as it is
    # inserted (a MutationObserver's record, before any timer can run), not some frames later: on a
    # busy machine the scroll may already have settled by then and the row been completed.
    rendered = await p.evaluate(
        """(id) => new Promise((resolve, reject) => {
            const list = document.querySelector(".job-list");
            const seen = (node) => node.nodeType === 1 && node.matches(`.job-row[data-job-id="${id}"]`);
            const observer = new MutationObserver((records) => {
                for (const record of records) {
                    const row = [...record.addedNodes].find(seen);
                    if (row) {
                        observer.disconnect();
                        resolve({ light: row.classList.contains("light"), buttons: row.querySelectorAll("button").length });
                        return;
                    }
                }
            });
            observer.observe(list, { childList: true, subtree: true });
            setTimeout(() => { observer.disconnect(); reject(new Error("the row was never inserted")); }, 10000);
            const top = list.getBoundingClientRect().top + scrollY;
            requestAnimationFrame(() => window.scrollTo(0, top + 40 * 80 - 200));
        })""",
        target["id"],
    )
    assert rendered == {"light": True, "buttons": 0}, rendered
    row = p.locator(f'.job-row[data-job-id="{target["id"]}"]')
    await expect(row).not_to_have_class(re.compile(r"\blight\b"))
    await expect(row.get_by_role("button", name=re.compile("^Winner"))).to_be_visible()
    await expect(row.get_by_role("link", name=re.compile("^Download"))).to_be_visible()
    await expect(row.locator(".thumb-box img")).to_have_count(1)
    await page.screenshot(f"completed-after-a-fast-scroll-{read_first_ms}")


async def test_offline_the_loaded_list_stays_and_the_badge_says_offline(page: BrowserPage) -> None:
    """The network drops (the browser offline, the service unreachable): the badge says Offline, not
    "Reconnecting…" for ever; going to another screen and back to Jobs shows the list that was
    loaded, marked as possibly out of date, not an error over an empty table; when the network is
    back the list is read again and the marks go."""
    jobs = make_jobs(60)
    live = Live()
    await mock(page.page, jobs, live)
    page.allow_errors("ERR_INTERNET_DISCONNECTED")  # the reads tried while offline
    down = {"now": False}

    async def unreachable(route: Any) -> None:
        if down["now"]:
            await route.abort("internetdisconnected")
        else:
            await route.fallback()

    async def socket(ws: WebSocketRoute) -> None:
        if down["now"]:
            await ws.close(code=1011, reason="unreachable")
            return

        def on_message(message: str | bytes) -> None:
            msg = json.loads(message)
            if msg.get("type") == "connection_init":
                ws.send(json.dumps({"type": "connection_ack"}))
            elif msg.get("type") == "ping":
                ws.send(json.dumps({"type": "pong"}))
            elif msg.get("type") == "subscribe" and "jobsUpdated" in msg["payload"]["query"]:
                live.subs.append((ws, msg["id"]))

        ws.on_message(on_message)

    await page.page.route(ORIGIN + "/graphql", unreachable)
    await page.page.route_web_socket("ws://jobs-bench.test/graphql", socket)
    await page.page.add_init_script("sessionStorage.setItem('creative-hub.credential', 'test')")
    await page.page.set_viewport_size({"width": 1280, "height": 900})
    p = page.page
    await p.goto(ORIGIN + "/app/#/jobs")
    badge = p.locator("header .conn")
    await expect(badge).to_have_text("Live")
    first = p.locator(f'.job-row[data-job-id="{jobs[0]["id"]}"]')
    await expect(first).to_be_visible()
    await p.goto(ORIGIN + "/app/#/billing")  # a screen change (the Jobs screen unmounts)
    await p.goto(ORIGIN + "/app/#/jobs")
    await expect(first).to_be_visible()

    # the network drops
    down["now"] = True
    await p.context.set_offline(True)
    for ws in {id(ws): ws for ws, _ in live.subs}.values():
        await ws.close(code=1012, reason="gone")
    live.subs.clear()
    await expect(badge).to_have_text("Offline", timeout=10_000)
    await expect(p.get_by_test_id("offline-banner")).to_contain_text(
        "showing what was loaded; it will update when the connection is back"
    )
    await p.goto(ORIGIN + "/app/#/billing")
    await p.goto(ORIGIN + "/app/#/jobs")
    await expect(first).to_be_visible()
    await expect(p.locator(".job-row")).not_to_have_count(0)
    stale = p.get_by_test_id("jobs-stale")
    await expect(stale).to_contain_text("they may be out of date")
    await expect(p.locator(".error-note, [role=alert]")).to_have_count(0)
    await expect(badge).to_have_text("Offline")  # retries that fail leave it at Offline
    await page.screenshot("offline-back-to-jobs")

    # back: read again, marks gone, live
    jobs[0] = jobs[0] | {"prompt": "Renamed while offline", "version": jobs[0]["version"] + 1}
    down["now"] = False
    await p.context.set_offline(False)
    await expect(badge).to_have_text("Live", timeout=15_000)
    await expect(first.locator(".job-title")).to_have_text("Renamed while offline", timeout=15_000)
    await expect(stale).to_have_count(0)
    await expect(p.get_by_test_id("offline-banner")).to_have_count(0)
    await page.screenshot("offline-recovered")


async def _panel_with_mutations(page: BrowserPage, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The mocked panel, answering cancelJob and rateJob as the API would; returns the mutations sent."""
    sent: list[dict[str, Any]] = []
    await mock(page.page, jobs, Live())

    async def mutations(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        query, variables = body.get("query", ""), body.get("variables") or {}
        job = next((j for j in jobs if j["id"] == variables.get("id")), None)
        if job and "cancelJob" in query:
            sent.append({"cancelJob": job["id"]})
            # charged once it reached the provider (the mock's "reached": False: not yet)
            reached = job["status"] == "PROCESSING" and job["metadata"].get("reached", True)
            charged = job["estimatedCostCents"] if reached else 0
            done = job | {"status": "CANCELED", "costCents": charged, "version": job["version"] + 1}
            await route.fulfill(json={"data": {"cancelJob": {"job": done, "userErrors": []}}})
        elif job and "rateJob" in query:
            sent.append({"rateJob": job["id"], "rating": variables.get("rating")})
            rated = job | {"rating": variables.get("rating"), "version": job["version"] + 1}
            await route.fulfill(json={"data": {"rateJob": {"job": rated, "userErrors": []}}})
        else:
            await route.fallback()

    await page.page.route(ORIGIN + "/graphql", mutations)
    await page.page.add_init_script("sessionStorage.setItem('creative-hub.credential', 'test')")
    await page.page.set_viewport_size({"width": 1366, "height": 900})
    await page.page.goto(ORIGIN + "/app/#/jobs")
    await page.page.wait_for_selector(".job-row")
    return sent


async def test_a_cancel_that_costs_money_asks_first_a_free_one_does_not(page: BrowserPage) -> None:
    jobs = make_jobs(20)
    running, waiting, early = jobs[8], jobs[9], jobs[18]
    assert (running["status"], waiting["status"], early["status"]) == ("PROCESSING", "PENDING", "PROCESSING")
    jobs[18] = early = early | {"metadata": {"reached": False}}
    jobs[8] = running = running | {"type": "VIDEO", "provider": "VEO_3_1", "estimatedCostCents": 320}
    sent = await _panel_with_mutations(page, jobs)
    p = page.page

    # Accepted by the provider: Cancel asks, saying what it will charge; keeping it sends nothing.
    row = p.locator(f'.job-row[data-job-id="{running["id"]}"]')
    await row.get_by_role("button", name=re.compile("^Cancel job")).click()
    dialog = p.get_by_role("dialog", name="Cancel this job?")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("canceling charges up to $3.20; if not yet, nothing")
    confirm = dialog.get_by_role("button", name="Cancel anyway — up to $3.20 may be charged")
    await expect(confirm).to_be_visible()
    await expect(dialog.get_by_role("button", name="Keep it running")).to_be_focused()
    await page.screenshot("cancel-confirm")
    await p.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(row.locator(".badge")).to_have_text("Processing")
    assert sent == []
    await row.get_by_role("button", name=re.compile("^Cancel job")).click()
    await confirm.click()
    await expect(row.locator(".badge")).to_have_text("Canceled")
    await expect(row.locator(".c-cost")).to_contain_text("$3.20")
    await expect(p.locator(".live-msg")).to_contain_text(": $3.20 charged.")
    assert sent == [{"cancelJob": running["id"]}]

    # Processing but not yet at the provider (the job cannot tell): the dialog says "up to", and
    # what the cancel came to is said after.
    row = p.locator(f'.job-row[data-job-id="{early["id"]}"]')
    await row.get_by_role("button", name=re.compile("^Cancel job")).click()
    await dialog.get_by_role("button", name="Cancel anyway — up to $0.03 may be charged").click()
    await expect(row.locator(".badge")).to_have_text("Canceled")
    await expect(p.locator(".live-msg")).to_contain_text(": nothing charged.")
    await page.screenshot("cancel-nothing-charged")

    # Still waiting for the provider: free, one click, no question.
    row = p.locator(f'.job-row[data-job-id="{waiting["id"]}"]')
    await row.get_by_role("button", name=re.compile("^Cancel job")).click()
    await expect(row.locator(".badge")).to_have_text("Canceled")
    await expect(p.get_by_role("dialog")).to_have_count(0)
    assert sent[-1] == {"cancelJob": waiting["id"]}


async def test_headings_over_their_values_winner_keeps_its_width_facts_whole(page: BrowserPage) -> None:
    jobs = make_jobs(12)
    target = jobs[1] | {"type": "IMAGE", "provider": "GPT_IMAGE_2_6_SUNBURST", "variant": 2, "rating": None}
    jobs[1] = target
    assert target["status"] == "COMPLETED" and target["settings"]["aspect_ratio"] == "1:1"
    sent = await _panel_with_mutations(page, jobs)
    p = page.page
    row = p.locator(f'.job-row[data-job-id="{target["id"]}"]')

    # Cost and Actions: each heading's right edge is its values' right edge.
    async def right(locator: Any) -> float:
        return float(await locator.evaluate("e => e.getBoundingClientRect().right"))

    head = p.locator(".job-head > span")
    for n, value in ((3, ".c-cost .amount"), (6, ".c-actions .job-actions")):
        heading = head.nth(n)
        text_right = await heading.evaluate(
            "e => { const r = document.createRange(); r.selectNodeContents(e); return r.getBoundingClientRect().right; }"
        )
        assert abs(text_right - await right(row.locator(value))) <= 1.5, (n, text_right)

    # The facts of a batch take: every fact whole (nothing cut), the ratio and the variant included.
    facts = row.locator(".job-facts")
    await expect(facts).to_contain_text("Image · GPT Image 2.6 Sunburst · 1:1 · variant 2")
    clipped = await facts.evaluate(
        """(f) => { const box = f.getBoundingClientRect();
          return [...f.querySelectorAll('.fact, .variant-mark, .batch-link')]
            .filter((e) => { const r = e.getBoundingClientRect(); return r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5; })
            .map((e) => e.textContent); }"""
    )
    assert clipped == [], clipped

    # Winner: the button changes colour, not width; the row's other buttons stay put.
    buttons = row.locator(".job-actions > :is(a, button)")
    before = [
        await b.evaluate("e => [e.getBoundingClientRect().left, e.getBoundingClientRect().width]")
        for b in await buttons.all()
    ]
    await row.get_by_role("button", name=re.compile("^Winner")).click()
    await expect(row.get_by_role("button", name=re.compile("^Winner"))).to_have_attribute(
        "aria-pressed", "true"
    )
    after = [
        await b.evaluate("e => [e.getBoundingClientRect().left, e.getBoundingClientRect().width]")
        for b in await buttons.all()
    ]
    assert after == before, (before, after)
    assert sent == [{"rateJob": target["id"], "rating": "WINNER"}]
    await page.screenshot("winner-marked")


async def test_another_team_signing_in_on_the_tab_never_sees_the_first_teams_jobs(page: BrowserPage) -> None:
    """Team A's jobs are loaded; someone signs out and signs in as team B on the same tab. Team B's
    Jobs panel shows none of team A's jobs: not while its first read is pending, not when that read
    fails (an error, not team A's list "as loaded"), and its own jobs once a read succeeds."""
    team_a = make_jobs(30)
    team_b = [
        j | {"id": f"team-b-{i}", "prompt": f"Team B concept {i}", "userId": "u-b"}
        for i, j in enumerate(make_jobs(4))
    ]
    await mock(page.page, team_a, Live())
    page.allow_errors("500")  # team B's failing read
    viewer_b = {
        "userId": "u-b",
        "teamId": "t-b",
        "teamName": "Team B",
        "role": "owner",
        "isAdmin": False,
        "scopes": ["read", "generate"],
        "apiKeyId": "k-b",
    }
    list_reads = {"count": 0}

    async def team_b_api(route: Any) -> None:
        request = route.request
        if (await request.all_headers()).get("authorization") != "Bearer team-b-key":
            await route.fallback()  # team A: the bench's mock
            return
        query = json.loads(request.post_data or "{}").get("query", "")
        if "viewer" in query:
            await route.fulfill(json={"data": {"viewer": viewer_b}})
        elif query.startswith("query Jobs("):
            list_reads["count"] += 1
            if list_reads["count"] == 1:  # its first read of the list fails
                await route.fulfill(
                    status=500,
                    json={"data": None, "errors": [{"message": "The service had a problem; try again."}]},
                )
            else:
                info = {"hasNextPage": False, "endCursor": str(len(team_b))}
                await route.fulfill(json={"data": {"jobs": {"nodes": team_b, "pageInfo": info}}})
        elif "jobs(" in query:
            await route.fulfill(json={"data": {"jobs": {"nodes": team_b}}})
        else:
            await route.fallback()

    await page.page.route(ORIGIN + "/graphql", team_b_api)
    await page.page.add_init_script("sessionStorage.setItem('creative-hub.credential', 'test')")
    await page.page.set_viewport_size({"width": 1280, "height": 900})
    p = page.page
    await p.goto(ORIGIN + "/app/#/jobs")
    await expect(p.locator(f'.job-row[data-job-id="{team_a[0]["id"]}"]')).to_be_visible()
    await expect(p.locator(".list-foot")).to_contain_text("30 jobs")

    await p.get_by_role("button", name="Sign out").click()
    await p.get_by_label("API key or token").fill("team-b-key")
    await p.get_by_role("button", name="Sign in").click()
    await expect(p.locator("header .team")).to_have_text("Team B")
    await expect(p.get_by_role("heading", name="Jobs")).to_be_visible()
    # team B's first read failed: the panel says so, with none of team A's rows under it
    await expect(p.locator(".error-note, [role=alert]").first).to_contain_text("try again")
    await page.screenshot("team-b-first-read-failed")
    await expect(p.locator(".job-row")).to_have_count(0)
    await expect(p.get_by_test_id("jobs-stale")).to_have_count(0)
    await expect(p.get_by_text("Campaign concept 0:")).to_have_count(0)
    assert list_reads["count"] == 1

    # read again (another screen and back): team B's own jobs, and only those
    await p.goto(ORIGIN + "/app/#/billing")
    await p.goto(ORIGIN + "/app/#/jobs")
    await expect(p.locator('.job-row[data-job-id="team-b-0"]')).to_be_visible()
    await expect(p.locator(".list-foot")).to_have_text("4 jobs.")
    ids = await p.locator(".job-row").evaluate_all("rows => rows.map((r) => r.dataset.jobId)")
    assert ids and all(i.startswith("team-b-") for i in ids), ids
    await page.screenshot("team-b-own-jobs")


async def test_the_cancel_dialog_stays_open_as_its_row_scrolls_away_or_finishes(page: BrowserPage) -> None:
    """The costly-cancel dialog is the screen's, not its row's: scrolling the row out of the windowed
    list, or the job finishing meanwhile, leaves it open with focus in it; closed, focus goes back to
    the job's Cancel button when it is there, else to the screen's main."""
    jobs = make_jobs(200)
    running = jobs[8] = jobs[8] | {"type": "VIDEO", "provider": "VEO_3_1", "estimatedCostCents": 320}
    assert running["status"] == "PROCESSING"
    live = Live()
    await mock(page.page, jobs, live)
    await page.page.add_init_script("sessionStorage.setItem('creative-hub.credential', 'test')")
    await page.page.set_viewport_size({"width": 1280, "height": 900})
    p = page.page
    await p.goto(ORIGIN + "/app/#/jobs")
    await expect(p.locator("header.top .conn")).to_have_text("Live")
    row = p.locator(f'.job-row[data-job-id="{running["id"]}"]')
    cancel = row.get_by_role("button", name=re.compile("^Cancel job"))
    dialog = p.get_by_role("dialog", name="Cancel this job?")
    keep = dialog.get_by_role("button", name="Keep it running")

    # the row scrolls out of the window (it leaves the DOM): the dialog stays, focus in it
    await cancel.click()
    await expect(keep).to_be_focused()
    top = await p.evaluate("document.querySelector('.job-list').getBoundingClientRect().top + scrollY")
    await p.evaluate(f"window.scrollTo(0, {top + 120 * ROW_HEIGHT})")
    await expect(row).to_have_count(0)
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("canceling charges up to $3.20")
    await expect(keep).to_be_focused()
    await page.screenshot("cancel-dialog-row-scrolled-away")
    await p.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(p.locator("#main")).to_be_focused()  # its button is gone: the screen's main

    # back at the row: the job re-renders (progress), then finishes, while the dialog is open
    await p.evaluate("window.scrollTo(0, 0)")
    await cancel.click()
    await expect(keep).to_be_focused()
    live.push(running | {"progress": 0.7, "version": running["version"] + 1})
    await expect(row.locator("progress")).to_have_attribute("value", "70")
    await expect(keep).to_be_focused()
    await p.keyboard.press("Escape")
    await expect(cancel).to_be_focused()  # closed: back on the Cancel button that opened it
    await cancel.click()
    await expect(keep).to_be_focused()
    live.push(
        running
        | {"status": "COMPLETED", "progress": 1.0, "version": running["version"] + 2, "costCents": 320}
    )
    await expect(row.locator(".badge")).to_have_text("Completed")
    await expect(dialog).to_be_visible()
    await expect(keep).to_be_focused()
    await keep.click()
    await expect(dialog).to_have_count(0)
    await expect(row.locator("a.job-title")).to_be_focused()  # its Cancel button is gone: the row's title
