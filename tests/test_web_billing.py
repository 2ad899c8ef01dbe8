"""The team billing screen (#/billing of the web app at /app) in a real Chromium against a running
stack, used as a person would: signed in by typing the team's API key.

- The balance shown is the API's; a job submitted through the API moves it, and its ledger rows
  appear, without a reload (creditBalanceUpdated); the usage charts draw one bar per provider used,
  with the amounts creditUsage reports.
- Setting the low-balance threshold above the available credits in the form brings the banner
  the shell shows on every screen, live.
- The CSV export downloads a file whose rows are the ledger's.
- An admin sets a member's spend cap in the form and sees it listed; the member sees the caps
  and the threshold read-only, with the reason.

Screenshots (desktop 1280 px and phone 390 px wide): var/screenshots/test_*-*.png."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser import BrowserPage
from tests.stack import Stack, Team, follow_job

BALANCE = "{ creditBalance { balanceCents availableCents heldCents lowBalanceThresholdCents } }"
LEDGER = """query ($after: String) { creditTransactions(first: 100, after: $after) {
  nodes { id kind amountCents jobId balanceAfterCents createdAt } pageInfo { hasNextPage endCursor } } }"""
USAGE = """query ($from: DateTime!, $to: DateTime!) {
  creditUsage(from: $from, to: $to, groupBy: PROVIDER) { totalCents rows { key costCents jobCount } } }"""
IMAGE = """mutation ($input: GenerateImageInput!) {
  generateImage(input: $input) { job { id } userErrors { message } } }"""
# A stack's start (when this module runs first) and a few jobs on a busy machine: more than 120 s.
pytestmark = pytest.mark.timeout(240)

TTS = """mutation ($input: GenerateTtsInput!) {
  generateTts(input: $input) { job { id } userErrors { message } } }"""


def dollars(cents: int) -> str:
    """What the page shows for cents (Intl's en-US currency format)."""
    return f"${cents / 100:,.2f}"


async def submit(stack: Stack, team: Team, provider: str) -> str:
    """An image (or, for a TTS provider, a voice-over) job submitted through the API; its id."""
    if provider in ("ELEVENLABS", "OPENAI_TTS"):
        data = await stack.data(
            team, TTS, {"input": {"text": "Summer sale, today only.", "provider": provider}}
        )
        result = data["generateTts"]
    else:
        data = await stack.data(team, IMAGE, {"input": {"prompt": "a red bicycle", "provider": provider}})
        result = data["generateImage"]
    assert not result["userErrors"], result
    return str(result["job"]["id"])


async def completed(stack: Stack, team: Team, provider: str) -> str:
    job_id = await submit(stack, team, provider)
    states = await follow_job(stack, team, job_id)
    assert states[-1]["status"] == "COMPLETED", states[-1]
    return job_id


async def balance(stack: Stack, team: Team) -> dict[str, Any]:
    data = await stack.data(team, BALANCE)
    return dict(data["creditBalance"])


async def ledger(stack: Stack, team: Team) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await stack.data(team, LEDGER, {"after": after}))["creditTransactions"]
        rows += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


async def usage_last_30_days(stack: Stack, team: Team) -> dict[str, Any]:
    """creditUsage by provider over the screen's default period (30 whole UTC days up to today)."""
    now = datetime.now(UTC)
    tomorrow = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    variables = {"from": (tomorrow - timedelta(days=30)).isoformat(), "to": tomorrow.isoformat()}
    data = await stack.data(team, USAGE, variables)
    return dict(data["creditUsage"])


async def sign_in(stack: Stack, page: BrowserPage, credential: str, screen: str = "billing") -> None:
    await page.page.goto(f"{stack.url}/app/")
    await page.page.get_by_label("API key or token").fill(credential)
    await page.page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.page.locator("header.top")).to_be_visible()
    await page.page.get_by_role("link", name="Billing").click()
    await expect(page.page.get_by_role("heading", name="Billing", level=1)).to_be_visible()


async def both_widths(page: BrowserPage, label: str) -> list[Path]:
    """Full-page screenshots at 1280 px and 390 px wide (the page's viewport restored after)."""
    shots = []
    for width, height, name in ((1280, 900, "desktop"), (390, 844, "phone")):
        await page.page.set_viewport_size({"width": width, "height": height})
        await page.page.mouse.move(0, 0)
        await expect(page.page.locator("[data-chart=provider] svg")).to_be_visible()
        # Nothing wider than the screen (the charts redraw at the new width): no sideways scrolling.
        await page.page.wait_for_function("document.documentElement.scrollWidth <= window.innerWidth")
        shots.append(await full_page(page, f"{label}-{name}"))
    await page.page.set_viewport_size({"width": 960, "height": 600})
    return shots


async def full_page(page: BrowserPage, label: str) -> Path:
    path = await page.screenshot(label)  # the viewport; then the whole page over it
    await page.page.screenshot(path=str(path), full_page=True)
    return path


async def test_balance_ledger_and_charts_follow_jobs_live(stack: Stack, page: BrowserPage) -> None:
    team = stack.create_team(5_000)
    await asyncio.gather(*(completed(stack, team, p) for p in ("FLUX_2_PRO", "SEEDREAM_4_5", "ELEVENLABS")))

    await sign_in(stack, page, team.api_key)
    before = await balance(stack, team)
    available = page.page.get_by_test_id("available")
    await expect(available).to_have_text(dollars(before["availableCents"]))
    await expect(page.page.get_by_test_id("balance")).to_have_text(dollars(before["balanceCents"]))

    # One bar per provider used, each with creditUsage's amount, named in the chart's label.
    usage = await usage_last_30_days(stack, team)
    bars = page.page.locator("[data-chart=provider] svg rect.bar")
    await expect(bars).to_have_count(len(usage["rows"]))
    drawn = {
        await bar.get_attribute("data-key"): await bar.get_attribute("data-cents") for bar in await bars.all()
    }
    assert drawn == {row["key"]: str(row["costCents"]) for row in usage["rows"]}
    label = await page.page.locator("[data-chart=provider] svg").get_attribute("aria-label")
    assert label is not None and f"total {dollars(usage['totalCents'])}" in label
    for name in ("FLUX.2 pro", "Seedream 4.5", "ElevenLabs"):
        assert name in label
    await expect(page.page.get_by_test_id("usage-total")).to_have_text(dollars(usage["totalCents"]))
    await both_widths(page, "before")

    # A job submitted elsewhere (the API): held, then charged; the page follows without a reload.
    await page.page.evaluate("window.__notReloaded = true")
    job_id = await completed(stack, team, "GPT_IMAGE_2_6_FLARE")
    after = await balance(stack, team)
    assert after["availableCents"] < before["availableCents"]
    await expect(available).to_have_text(dollars(after["availableCents"]))
    await expect(page.page.get_by_test_id("balance")).to_have_text(dollars(after["balanceCents"]))
    job_rows = page.page.locator(f"[data-testid=ledger] tr:has(a[title='{job_id}'])")
    await expect(job_rows).to_have_count(2)  # its hold and its charge
    await expect(job_rows.first).to_have_attribute("data-kind", "CAPTURE")  # newest first
    newest = (await ledger(stack, team))[0]
    assert newest["jobId"] == job_id and newest["kind"] == "CAPTURE"
    await expect(job_rows.first.locator("td.amount")).to_have_text(f"−{dollars(newest['amountCents'])}")
    await expect(bars).to_have_count(len(usage["rows"]) + 1)  # the new provider's bar
    assert await page.page.evaluate("window.__notReloaded") is True
    await both_widths(page, "after-job")


async def test_threshold_above_available_shows_the_banner_live(stack: Stack, page: BrowserPage) -> None:
    team = stack.create_team(5_000)
    await completed(stack, team, "FLUX_2_PRO")
    await sign_in(stack, page, team.api_key)
    banner = page.page.get_by_test_id("low-balance-banner")
    await expect(page.page.get_by_test_id("available")).to_have_text(
        dollars((await balance(stack, team))["availableCents"])
    )
    await expect(banner).to_have_count(0)

    available = (await balance(stack, team))["availableCents"]
    threshold = available + 1_000
    await page.page.get_by_label("Alert when available credits are below").fill(f"{threshold / 100:.2f}")
    await page.page.get_by_role("button", name="Save threshold").click()
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text(dollars(threshold))
    await expect(page.page.get_by_test_id("threshold")).to_have_text(dollars(threshold))
    assert (await balance(stack, team))["lowBalanceThresholdCents"] == threshold
    await full_page(page, "banner")

    # The banner is the shell's: it stays on the other screens.
    await page.page.get_by_role("link", name="Jobs", exact=True).click()
    await expect(banner).to_be_visible()
    await page.page.get_by_role("link", name="Billing").click()
    await page.page.get_by_role("button", name="Turn off").click()
    await expect(banner).to_have_count(0)


async def test_csv_export_downloads_the_ledger(stack: Stack, page: BrowserPage) -> None:
    team = stack.create_team(5_000)
    await asyncio.gather(*(completed(stack, team, p) for p in ("FLUX_2_PRO", "ELEVENLABS")))
    await sign_in(stack, page, team.api_key)
    await expect(page.page.locator("[data-testid=ledger] tbody tr")).to_have_count(
        len(await ledger(stack, team))
    )

    async with page.page.expect_download() as info:
        await page.page.get_by_test_id("export-csv").click()
    download = await info.value
    assert download.suggested_filename.endswith(".csv")
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    exported = list(csv.DictReader(io.StringIO(text)))
    rows = await ledger(stack, team)
    assert [(r["kind"], int(r["amount_cents"]), r["job_id"] or None) for r in exported] == [
        (r["kind"], r["amountCents"], r["jobId"]) for r in rows
    ]
    await expect(page.page.get_by_role("status").filter(has_text="Saved creative-hub-ledger")).to_have_count(
        1
    )


async def test_admin_sets_a_spend_cap_member_reads_it(stack: Stack, page: BrowserPage) -> None:
    team = stack.create_team(5_000)
    member = stack.add_member(team)
    await sign_in(stack, page, team.api_key)
    caps = page.page.get_by_test_id("spend-caps")
    await expect(caps.get_by_role("heading", name="No spend caps")).to_be_visible()

    members = (await stack.data(team, "{ teamMembers { id name } }"))["teamMembers"]
    name = next(m["name"] for m in members if m["id"] == member.user_id)
    await caps.get_by_label("Member or API key").select_option(label=name)
    await caps.get_by_label("Period").select_option("DAY")
    await caps.get_by_label("Limit").fill("2.50")
    await caps.get_by_role("button", name="Set cap").click()
    row = caps.locator(f"tbody tr[data-subject='{name}']")
    await expect(row).to_be_visible()
    await expect(row.locator("td.limit")).to_contain_text("$2.50")
    await expect(row.locator("td.period")).to_have_text("Daily")
    await expect(
        caps.get_by_role("status").filter(has_text=f"{name} may spend $2.50 per day")
    ).to_be_visible()
    listed = (await stack.data(team, "{ spendCaps { subject { id } period limitCents } }"))["spendCaps"]
    assert listed == [{"subject": {"id": member.user_id}, "period": "DAY", "limitCents": 250}]

    # The member spends: what the cap has left follows live (the caps are read again on balance events).
    job_id = await completed(stack, member, "FLUX_2_PRO")
    cost = (await stack.data(team, "query ($id: ID!) { job(id: $id) { costCents } }", {"id": job_id}))["job"][
        "costCents"
    ]
    assert cost > 0
    await expect(row.locator("td.spent")).to_have_text(dollars(cost))
    await expect(row.locator(".cap-left")).to_have_text(f"{dollars(250 - cost)} left")
    await caps.screenshot(path=str(await page.screenshot("caps-admin")))

    # The member: the caps and the threshold read-only, and why.
    await page.page.get_by_role("button", name="Sign out").click()
    await sign_in(stack, page, member.api_key)
    await expect(caps.locator(f"tbody tr[data-subject='{name}']")).to_be_visible()
    await expect(caps.get_by_role("button", name="Set cap")).to_have_count(0)
    await expect(caps).to_contain_text("Only team owners and admins can change billing settings")
    await expect(page.page.get_by_label("Alert when available credits are below")).to_have_count(0)
    # Their job in the usage by member, under their name (teamMembers), "(you)" to them.
    await expect(page.page.locator("[data-chart=member] svg")).to_have_attribute(
        "aria-label", re.compile(re.escape(f"{name} (you) {dollars(cost)}"))
    )
    await full_page(page, "member")


async def test_day_bars_are_stacked_by_type_in_the_legends_colours(stack: Stack, page: BrowserPage) -> None:
    """The spend-by-day bar of a day with an image and a voice-over is two segments, each in its
    type's legend colour and with its amount; the table says the same per type; the types have the
    forms' names ("Voice-over"); the member's name is drawn whole where the chart has room."""
    team = stack.create_team(5_000)
    image, voice = await asyncio.gather(
        completed(stack, team, "FLUX_2_PRO"), completed(stack, team, "ELEVENLABS")
    )
    cost = {}
    for job_id in (image, voice):
        data = await stack.data(team, "query ($id: ID!) { job(id: $id) { type costCents } }", {"id": job_id})
        cost[data["job"]["type"]] = data["job"]["costCents"]
    await sign_in(stack, page, team.api_key)
    await page.page.set_viewport_size({"width": 1366, "height": 900})
    p = page.page
    legend = p.get_by_role("list", name="Colours by job type")
    await expect(legend).to_contain_text("Voice-over")
    await expect(p.locator(".usage")).not_to_contain_text("Voice (TTS)")
    swatches = {
        (await item.inner_text()).strip(): await item.locator("i").evaluate(
            "i => getComputedStyle(i).backgroundColor"
        )
        for item in await legend.locator("li").all()
    }
    today = datetime.now(UTC).date().isoformat()
    bar = p.locator(f"[data-chart=day] svg .bar[data-key='{today}']")
    await expect(bar.locator("rect.seg")).to_have_count(2)
    for series, name in (("IMAGE", "Image"), ("TTS", "Voice-over")):
        seg = bar.locator(f"rect.seg[data-series={series}]")
        await expect(seg).to_have_attribute("data-cents", str(cost[series]))
        assert await seg.evaluate("r => getComputedStyle(r).fill") == swatches[name]
    await p.locator("[data-chart=day] summary").click()
    table = p.locator("[data-chart=day] table")
    await expect(table.locator("thead th")).to_have_text(["Day", "Image", "Voice-over", "Jobs", "Spend"])
    await expect(table.locator("tfoot td")).to_have_text(
        [dollars(cost["IMAGE"]), dollars(cost["TTS"]), "2", dollars(cost["IMAGE"] + cost["TTS"])]
    )
    # The member chart: the name whole, "(you)" after it (the column is as wide as the name).
    members = (await stack.data(team, "{ teamMembers { id name } }"))["teamMembers"]
    name = next(m["name"] for m in members if m["id"] == team.user_id)
    await expect(p.locator("[data-chart=member] svg text.ylabel")).to_have_text(f"{name} (you)")
    # No name is cut where the chart has room (the names' column is as wide as the longest).
    labels = await p.locator(".usage svg text.ylabel").all_text_contents()
    assert labels and not [t for t in labels if "…" in t], labels
    await p.locator("[data-chart=day]").scroll_into_view_if_needed()
    await full_page(page, "stacked-days")
    await p.set_viewport_size({"width": 390, "height": 844})
    await expect(p.locator("[data-chart=provider] svg text.ylabel").first).not_to_contain_text("…")
    await full_page(page, "stacked-days-phone")
