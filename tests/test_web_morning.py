"""A morning's work in the web app (issue 15's browser run), in a real Chromium against the running
stack (one database), driven as a person drives it: typing, clicking, choosing files. The API is
only used to verify what the page shows.

One long test, in the order a person works:

1. Sign in by typing the team's API key: the header shows the team's $200.00.
2. New generation: an image in 2 variants × FEED + STORY (4 jobs), a slow video (to cancel), the
   video + voice-over recipe (video, voice-over, their mix), and a composite whose background is a
   PNG uploaded in the form.
3. The Jobs panel shows each of them reach Completed without a reload (window.__notReloaded).
4. An image thumbnail decodes; the mixed video plays and seeks (its bytes come in Range requests
   answered 206); the voice-over plays (its currentTime advances).
5. The slow video is canceled from the panel.
6. The header's balance follows each hold; a second tab on #/billing sees the ledger rows of a job
   charged while it is open, without a reload.
7. The network drops mid-job (context offline): the badge says Offline, the job completes on
   the server meanwhile; back online the badge says Live and the row shows Completed (the resync).
8. A billing contact added and a threshold set just under the available credits in the billing
   screen; the next job's hold crosses it: the banner appears live and one email reaches the SMTP
   server (tests/smtp_server.py), From/To/Subject read.
9. A daily spend cap of $0.01 set for the signed-in member in the billing screen while the image
   form is open: that image is refused in the form with the cap's message (the API's answer); the
   form opened again knows the cap and turns Generate off, naming it.

Screenshots: var/screenshots/test_a_morning_in_the_browser*-morning-NN-*.png (both tabs)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, FilePayload, Page, WebSocketRoute, expect

from tests.browser import BrowserPage, screenshot_dir
from tests.smtp_server import SMTPServer
from tests.stack import Stack, Team, follow_job
from tests.test_web_new_drive import png

pytestmark = pytest.mark.timeout(240)

BALANCE = "{ creditBalance { balanceCents availableCents lowBalanceThresholdCents } }"
BATCH = "query($id: ID!) { batch(id: $id) { jobs { id type status } } }"
JOB = "query($id: ID!) { job(id: $id) { id type status costCents estimatedCostCents } }"
LEDGER = "{ creditTransactions(first: 50) { nodes { kind amountCents jobId } } }"
WAIT_MS = 45_000


class Network:
    """The tabs' websockets, passed through the test (route_web_socket) so that a dropped network
    drops them too: Chromium's offline emulation (context.set_offline) fails new requests but
    leaves an open websocket working (microsoft/playwright#4910). While down, the sockets are
    closed (1001, going away: graphql-ws retries it) and new ones refused."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.down = False
        self.routes: list[WebSocketRoute] = []

    async def route(self, ws: WebSocketRoute) -> None:
        if self.down:
            await ws.close(code=1001, reason="network down")
            return
        server = ws.connect_to_server()
        self.routes += [ws, server]

    async def drop(self) -> None:
        self.down = True
        await self.context.set_offline(True)
        routes, self.routes = self.routes, []
        for ws in routes:  # the page's side (a coroutine) and the server's (in this version, not)
            closed = ws.close(code=1001, reason="network down")
            if inspect.isawaitable(closed):
                await closed

    async def restore(self) -> None:
        self.down = False
        await self.context.set_offline(False)


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


class Shots:
    """Numbered screenshots of the test's tabs: <test>-morning-NN-<label>.png."""

    def __init__(self, page: BrowserPage) -> None:
        self.page = page
        self.n = 0

    async def __call__(self, label: str, tab: Page | None = None) -> None:
        self.n += 1
        name = f"morning-{self.n:02d}-{label}"
        if tab is None:
            await self.page.screenshot(name)
        else:
            screenshot_dir().mkdir(parents=True, exist_ok=True)
            await tab.screenshot(path=str(screenshot_dir() / f"{self.page.name}-{name}.png"))


async def sign_in(tab: Page, stack: Stack, team: Team, shots: Shots | None = None) -> None:
    await tab.goto(f"{stack.url}/app/")
    await tab.get_by_label("API key or token").fill(team.api_key)
    if shots:
        await shots("signin", tab)
    await tab.get_by_role("button", name="Sign in", exact=True).click()
    await expect(tab.locator("header.top")).to_be_visible()


async def open_form(tab: Page, title: str) -> None:
    """New generation → the kind's card, by clicks."""
    await tab.get_by_role("navigation", name="Main").get_by_role("link", name="New generation").click()
    await tab.locator(".kind-card", has_text=title).first.click()
    await expect(tab.get_by_role("heading", name=title, level=1)).to_be_visible()


async def submitted_batch(tab: Page) -> str:
    """After Generate: the page lands on the Jobs panel of the batch; the batch's id."""
    await tab.wait_for_function("location.hash.startsWith('#/jobs?batch=')")
    found = re.search(r"batch=([0-9a-f-]+)", await tab.evaluate("location.hash"))
    assert found
    return found.group(1)


def row(tab: Page, job_id: str) -> Any:
    return tab.locator(f'.job-row[data-job-id="{job_id}"]')


async def to_jobs(tab: Page) -> None:
    await tab.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    await expect(tab.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()


async def available(stack: Stack, team: Team) -> int:
    return int((await stack.data(team, BALANCE))["creditBalance"]["availableCents"])


async def test_a_morning_in_the_browser(page: BrowserPage, stack: Stack, smtp_server: SMTPServer) -> None:
    team = stack.create_team(20_000)
    contact = f"billing-{team.team_id[:8]}@example.com"
    p = page.page
    shots = Shots(page)
    await p.set_viewport_size({"width": 1280, "height": 900})
    balance = p.locator("header.top .balance")
    badge = p.locator("header.top .conn")

    network = Network(p.context)
    await p.context.route_web_socket("**/graphql", network.route)

    # 1. Sign in.
    await sign_in(p, stack, team, shots)
    await expect(balance).to_have_text("$200.00")
    await expect(p.get_by_text("No jobs yet")).to_be_visible()
    await expect(badge).to_have_text("Live")
    await shots("jobs-empty")
    await p.evaluate("window.__notReloaded = true")

    # 2a. A slow video first (the one to cancel): ten times the simulator's time.
    await open_form(p, "Video")
    await p.fill("#prompt", "A long take of rain on a window, night [sim:slow]")
    await p.get_by_test_id("estimate-total").wait_for()
    await shots("new-video")
    await p.get_by_test_id("submit").click()
    slow_batch = await submitted_batch(p)
    [slow] = (await stack.data(team, BATCH, {"id": slow_batch}))["batch"]["jobs"]
    # 5. Cancel it from the panel.
    slow_row = row(p, slow["id"])
    await expect(slow_row).to_be_visible()
    await slow_row.get_by_role("button", name=re.compile("^Cancel job")).click()
    # Free while it waits for the provider (one click); once the provider has it, Cancel asks first
    # and names the charge (its estimate).
    confirm = p.get_by_role("dialog", name="Cancel this job?")
    canceled = slow_row.locator(".badge", has_text="Canceled")
    await expect(confirm.or_(canceled)).to_be_visible()
    if await confirm.is_visible():
        await shots("cancel-confirm")
        await confirm.get_by_role(
            "button", name=re.compile(r"^Cancel anyway — up to \$[\d.]+ may be charged$")
        ).click()
    await expect(slow_row.locator(".badge")).to_have_text("Canceled")
    assert (await stack.data(team, JOB, {"id": slow["id"]}))["job"]["status"] == "CANCELED"
    await shots("canceled")

    # 2b. An image in 2 variants × FEED + STORY.
    await open_form(p, "Image")
    await p.fill("#prompt", "A red sneaker on wet sand at golden hour")
    await p.get_by_label("Feed").check()
    await p.get_by_label("Story").check()
    await p.fill("#variants", "2")
    await p.get_by_text("4 jobs on").wait_for()
    await shots("new-image")
    await p.get_by_test_id("submit").click()
    image_batch = await submitted_batch(p)
    images = (await stack.data(team, BATCH, {"id": image_batch}))["batch"]["jobs"]
    assert [j["type"] for j in images] == ["IMAGE"] * 4
    # 6. The header follows the holds (creditBalanceUpdated), no reload.
    await expect(balance).to_have_text(dollars(await available(stack, team)))
    for job in images:
        await expect(row(p, job["id"]).locator(".badge")).to_have_text("Completed", timeout=WAIT_MS)
    # Each take's "Batch" link is whole, not cut by the facts before it.
    batch_link = row(p, images[0]["id"]).locator(".batch-link")
    await expect(batch_link).to_have_text("Batch")
    assert await batch_link.evaluate(
        "(a) => a.scrollWidth <= a.clientWidth && a.getBoundingClientRect().right <= a.closest('.c-main').getBoundingClientRect().right + 0.5"
    )
    # The take's variant is whole too: it is what tells the takes of one placement apart.
    mark = row(p, images[0]["id"]).locator(".variant-mark")
    await expect(mark).to_have_text(re.compile(r"variant \d"))
    assert await mark.evaluate(
        "(m) => m.getBoundingClientRect().right <= m.closest('.c-main').getBoundingClientRect().right + 0.5"
    )
    await shots("image-batch-completed")
    # Just-made jobs read "just now", not "in 0 s" (the panel's clock ticks once a second).
    created = await p.locator(".job-row .c-created time").all_text_contents()
    assert created and not any(text.startswith("in ") for text in created), created
    just = await p.evaluate(
        "import('./js/ui.js').then((ui) => ui.relative(new Date(Date.now() + 400).toISOString(), Date.now()))"
    )
    assert just == "just now", just

    # 2c. The video + voice-over recipe.
    await open_form(p, "Video + voice-over")
    await p.fill("#prompt", "Steam rising from a coffee cup, morning light")
    await p.fill("#voText", "Wake up to something better.")
    await p.get_by_text("composite · Creatomate").wait_for()
    await shots("new-video-voiceover")
    await p.get_by_test_id("submit").click()
    await p.get_by_text("Creative accepted").wait_for()
    links = p.locator(".submitted-jobs tbody a")
    await expect(links).to_have_count(3)
    creative_jobs = [
        (await link.get_attribute("href") or "").removeprefix("#/jobs/") for link in await links.all()
    ]
    await shots("video-voiceover-submitted")

    # 2d. An upload-based job: a composite over a PNG uploaded in the form.
    await open_form(p, "Composite")
    await p.set_input_files(
        "#background-upload",
        files=[
            FilePayload(name="poster-bg.png", mimeType="image/png", buffer=png((20, 90, 200), (640, 640)))
        ],
    )
    await p.get_by_test_id("background-chosen").get_by_text("poster-bg.png").wait_for()
    await p.fill("#headline", "Summer sale")
    # The estimate for what is on the form now (not the one before the upload, still shown while updating).
    await p.locator("[data-testid=estimate][aria-busy=false] [data-testid=estimate-total]").wait_for()
    await shots("new-composite-upload")
    shown = await p.get_by_test_id("estimate-total").text_content()
    await p.get_by_test_id("submit").click()
    composite_batch = await submitted_batch(p)
    [composite] = (await stack.data(team, BATCH, {"id": composite_batch}))["batch"]["jobs"]
    assert composite["type"] == "COMPOSITE"
    # The price shown is what was held: the still PNG render, not a guessed 30 s video.
    held = (await stack.data(team, JOB, {"id": composite["id"]}))["job"]["estimatedCostCents"]
    assert shown == dollars(held), (shown, held)

    # 3. Every job reaches Completed on the panel, live.
    await to_jobs(p)
    for job_id in [*creative_jobs, composite["id"]]:
        await expect(row(p, job_id).locator(".badge")).to_have_text("Completed", timeout=WAIT_MS)
    await shots("jobs-all-completed")
    assert await p.evaluate("window.__notReloaded") is True

    # 4. The media: an image decodes, the mixed video plays and seeks, the voice-over plays.
    thumb = row(p, images[0]["id"]).locator(".thumb-box img")
    await p.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await thumb.element_handle()
    )
    kinds = {job_id: (await stack.data(team, JOB, {"id": job_id}))["job"] for job_id in creative_jobs}
    tts = next(j for j in kinds.values() if j["type"] == "TTS")
    mixed = next(j for j in kinds.values() if j["type"] == "COMPOSITE")

    await row(p, mixed["id"]).locator("button.thumb-box").click()
    dialog = p.locator("dialog.preview-dialog")
    video = dialog.locator("video.preview-video")
    await expect(video).to_be_visible()
    played = await video.evaluate(
        """async (v) => {
            await v.play();
            await new Promise((ok, no) => {
                const t = setTimeout(() => no(new Error('no timeupdate')), 10000);
                const tick = () => { if (v.currentTime > 0) { clearTimeout(t); ok(); } else v.addEventListener('timeupdate', tick, { once: true }); };
                tick();
            });
            v.pause();
            const to = Math.min(v.duration / 2, v.duration - 0.1);
            await new Promise((ok, no) => {
                const t = setTimeout(() => no(new Error('no seeked')), 10000);
                v.addEventListener('seeked', () => { clearTimeout(t); ok(); }, { once: true });
                v.currentTime = to;
            });
            return { error: v.error && v.error.code, currentTime: v.currentTime, to, duration: v.duration };
        }"""
    )
    assert played["error"] is None and abs(played["currentTime"] - played["to"]) < 0.5, played
    video_url = await video.get_attribute("src")
    assert video_url
    ranged = [r for r in page.responses if r.status == 206 and video_url.split("?")[0] in r.url]
    assert ranged, [(r.url, r.status) for r in page.responses if "/files/" in r.url]
    await shots("video-preview-seeked")
    await dialog.get_by_role("button", name="Close the preview").click()

    await row(p, tts["id"]).locator("button.thumb-box").click()
    audio = dialog.locator("audio.preview-audio")
    await expect(audio).to_be_attached()
    heard = await audio.evaluate(
        """async (a) => {
            await a.play();
            await new Promise((ok, no) => {
                const t = setTimeout(() => no(new Error('currentTime did not advance')), 10000);
                const tick = () => { if (a.currentTime > 0.05) { clearTimeout(t); ok(); } else a.addEventListener('timeupdate', tick, { once: true }); };
                tick();
            });
            a.pause();
            return { error: a.error && a.error.code, currentTime: a.currentTime };
        }"""
    )
    assert heard["error"] is None and heard["currentTime"] > 0, heard
    await shots("audio-preview-played")
    await dialog.get_by_role("button", name="Close the preview").click()

    # The mixed video's own page (settings, timings, ledger rows), the panel on a phone, and Drive,
    # where the PNG uploaded in the composite form now is.
    await row(p, mixed["id"]).get_by_role("link").first.click()
    await expect(p.locator("video.preview-video")).to_be_visible()
    await expect(p.locator(".ledger")).to_contain_text("Charged")
    # Its inputs: named as people say them; the voice-over's player knows its length (preload
    # metadata), the video input shows a picture; a composite has no "Model" row.
    inputs = p.locator(".composite-inputs")
    await expect(inputs.locator("strong")).to_have_text(["Video", "Voice-over"])
    await p.wait_for_function("() => document.querySelector('.composite-inputs audio')?.duration > 0")
    await p.wait_for_function(
        "() => { const i = document.querySelector('.composite-inputs img, .composite-inputs video');"
        " return i && (i.naturalWidth > 0 || i.videoWidth > 0); }"
    )
    await expect(p.locator(".facts-list dt", has_text="Model")).to_have_count(0)
    await shots("job-page")
    await to_jobs(p)
    await p.set_viewport_size({"width": 390, "height": 844})
    await expect(row(p, mixed["id"])).to_be_visible()
    # On a phone the main navigation is a row of its own, every link in view.
    nav = p.get_by_role("navigation", name="Main")
    for name in ("Jobs", "New generation", "Drive", "Billing", "GraphiQL"):
        box = await nav.get_by_role("link", name=name).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
    await shots("jobs-phone")
    # At 960 px no link breaks onto a second line of the header.
    await p.set_viewport_size({"width": 960, "height": 800})
    heights = [
        (await link.bounding_box() or {}).get("height", 0) for link in await nav.get_by_role("link").all()
    ]
    tops = {
        round((await link.bounding_box() or {}).get("y", -1)) for link in await nav.get_by_role("link").all()
    }
    assert len(tops) == 1 and max(heights) < 40, (tops, heights)
    await p.set_viewport_size({"width": 1280, "height": 900})
    await p.get_by_role("navigation", name="Main").get_by_role("link", name="Drive").click()
    await p.locator("[data-testid=file]", has_text="poster-bg.png").locator("img").wait_for()
    await shots("drive")

    # 6. A second tab on the billing screen (signed in there too: the credential is the tab's).
    billing = await p.context.new_page()
    billing.on("pageerror", page._page_error)
    billing.on("console", page._console)
    await billing.set_viewport_size({"width": 1280, "height": 900})
    await sign_in(billing, stack, team)
    await billing.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    await expect(billing.get_by_role("heading", name="Billing", level=1)).to_be_visible()
    await expect(billing.get_by_test_id("available")).to_have_text(dollars(await available(stack, team)))
    # By member: the viewer's long name is cut, its "(you)" is not.
    await expect(billing.locator("[data-chart=member] text.ylabel").first).to_have_text(
        re.compile(r"\(you\)$")
    )
    await billing.evaluate("window.__notReloaded = true")
    await shots("billing", billing)

    # 7. The network drops mid-job.
    await open_form(p, "Video")
    # [sim:slow]: about 3 s at the tests' time scale, not 0.3 s: still running when the network drops.
    await p.fill("#prompt", "Waves rolling onto a pebble beach, overcast [sim:slow]")
    await p.get_by_test_id("estimate-total").wait_for()
    await p.get_by_test_id("submit").click()
    offline_batch = await submitted_batch(p)
    [offline_job] = (await stack.data(team, BATCH, {"id": offline_batch}))["batch"]["jobs"]
    offline_row = row(p, offline_job["id"])
    await expect(offline_row).to_be_visible()
    await network.drop()
    # The browser is offline: the badge says so (not "Reconnecting…" for as long as it lasts), and
    # a banner says the page shows what was loaded.
    await expect(badge).to_have_text("Offline")
    await expect(p.get_by_test_id("offline-banner")).to_contain_text("showing what was loaded")
    states = await follow_job(stack, team, offline_job["id"])  # the server finishes it meanwhile
    assert states[-1]["status"] == "COMPLETED", states[-1]
    await expect(offline_row.locator(".badge")).not_to_have_text("Completed")  # nothing reached the page
    await shots("offline-reconnecting")
    await network.restore()
    await expect(badge).to_have_text("Live", timeout=WAIT_MS)
    await expect(offline_row.locator(".badge")).to_have_text("Completed")
    await shots("online-resynced")

    # The billing tab saw that job's hold and charge arrive, without a reload.
    job_rows = billing.locator(f"[data-testid=ledger] tr:has(a[title='{offline_job['id']}'])")
    await expect(job_rows).to_have_count(2, timeout=WAIT_MS)
    await expect(job_rows.first).to_have_attribute("data-kind", "CAPTURE")
    balance_now = (await stack.data(team, BALANCE))["creditBalance"]
    await expect(billing.get_by_test_id("balance")).to_have_text(dollars(balance_now["balanceCents"]))
    await expect(balance).to_have_text(dollars(balance_now["availableCents"]))
    assert await billing.evaluate("window.__notReloaded") is True
    await shots("billing-after-charge", billing)

    # 8. A billing contact and a threshold just under the available credits, in the billing tab.
    await billing.get_by_label("Add an email address").fill(contact)
    await billing.get_by_role("button", name="Add", exact=True).click()
    await expect(billing.get_by_role("list", name="Billing contacts")).to_contain_text(contact)
    threshold = balance_now["availableCents"] - 1
    await billing.get_by_label("Alert when available credits are below").fill(f"{threshold / 100:.2f}")
    await billing.get_by_role("button", name="Save threshold").click()
    await expect(billing.get_by_test_id("threshold")).to_have_text(dollars(threshold))
    banner = p.get_by_test_id("low-balance-banner")
    await expect(banner).to_have_count(0)
    await shots("billing-threshold-set", billing)

    # The next job's hold crosses it: the banner on both tabs, live; one email.
    await open_form(p, "Image")
    await p.fill("#prompt", "A ceramic mug on a linen table, soft window light")
    await p.get_by_test_id("submit").click()
    crossing_batch = await submitted_batch(p)
    await expect(banner).to_be_visible()
    await expect(billing.get_by_test_id("low-balance-banner")).to_be_visible()
    await expect(banner).to_contain_text(dollars(threshold))
    [crossing] = (await stack.data(team, BATCH, {"id": crossing_batch}))["batch"]["jobs"]
    await expect(row(p, crossing["id"]).locator(".badge")).to_have_text("Completed", timeout=WAIT_MS)
    await shots("low-balance-banner")
    await shots("billing-low-balance", billing)
    [mail] = await smtp_server.wait_for(contact, 1, within=WAIT_MS / 1000)
    assert mail.message["From"] == "Creative Hub <billing@hub.test>", mail.message["From"]
    assert contact in mail.message["To"], mail.message["To"]
    assert re.search(r"low|balance|credits", mail.message["Subject"], re.I), mail.message["Subject"]

    # 9. A daily spend cap of $0.01 for the signed-in member, set in the billing tab while the
    # image form is open with its estimate shown: the form cannot know, the submission's answer
    # (the API's refusal, naming the cap) decides.
    before = len((await stack.data(team, LEDGER))["creditTransactions"]["nodes"])
    await open_form(p, "Image")
    await p.fill("#prompt", "A bowl of lemons on a blue table")
    await p.locator("[data-testid=estimate][aria-busy=false] [data-testid=estimate-total]").wait_for()
    members = (await stack.data(team, "{ teamMembers { id name } }"))["teamMembers"]
    me = next(m["name"] for m in members if m["id"] == team.user_id)
    caps = billing.get_by_test_id("spend-caps")
    await caps.get_by_label("Member or API key").select_option(label=f"{me} (you)")
    await caps.get_by_label("Period").select_option("DAY")
    await caps.get_by_label("Limit").fill("0.01")
    await caps.get_by_role("button", name="Set cap").click()
    await expect(caps.locator(f"tbody tr[data-subject='{me}']")).to_be_visible()
    await shots("billing-cap-set", billing)

    await p.get_by_test_id("submit").click()
    summary = p.get_by_test_id("error-summary")
    await expect(summary).to_be_visible()
    await expect(summary.locator("li")).to_have_text(
        re.compile("^Your daily spend cap of \\$0\\.01 would be exceeded")
    )
    await shots("cap-refused")
    # The form opened again knows the cap: Generate is off before anything is sent, the cap named
    # beside it.
    await open_form(p, "Image")
    await p.fill("#prompt", "A bowl of lemons on a blue table")
    await expect(p.get_by_test_id("estimate-cap")).to_contain_text(
        "Your daily spend cap of $0.01 is used up today"
    )
    await expect(p.get_by_test_id("submit")).to_have_attribute("aria-disabled", "true")
    await shots("cap-blocked")
    assert len((await stack.data(team, LEDGER))["creditTransactions"]["nodes"]) == before  # nothing held
    # Still one email for the one crossing (the charges below the threshold sent none).
    assert len(smtp_server.to(contact)) == 1
    assert await p.evaluate("window.__notReloaded") is True
