"""The Jobs panel and a job's page (web/static/app/js/screens/jobs.js, job.js) in a real Chromium
against the running stack (one database): signed in by typing the team's API key, as a user would.

- A job submitted through the API appears at the top of the panel and reaches Completed without a
  reload (jobsUpdated), its image thumbnail decodes, and its page shows the full image decoded.
- The status filter is kept in the URL and shows only the jobs in that status.
- Every filter is in the filter bar, the batch too (a select of the team's recent batches, kept
  in the URL; a batch submitted while the panel is open joins it).
- Cancel in the panel cancels the job (the API says CANCELED); Winner in the panel rates it WINNER,
  and the mark is still there after a reload.

Screenshots: var/screenshots/test_web_jobs_*."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser import BrowserPage
from tests.stack import Stack, Team

IMAGE = """mutation($prompt: String!) { generateImage(input: {prompt: $prompt}) { job { id } userErrors { message } } }"""
VIDEO = """mutation($prompt: String!) {
  generateVideo(input: {prompt: $prompt, durationSeconds: 5}) { job { id } userErrors { message } } }"""
JOB = "query($id: ID!) { job(id: $id) { status rating } }"
WAIT_MS = 20_000


async def submit(stack: Stack, team: Team, mutation: str, prompt: str) -> str:
    data: dict[str, Any] = await stack.data(team, mutation, {"prompt": prompt})
    [payload] = data.values()
    assert payload["userErrors"] == [], payload
    return str(payload["job"]["id"])


async def sign_in(page: BrowserPage, stack: Stack, team: Team) -> None:
    await page.page.goto(stack.url + "/app/#/jobs")
    await page.page.get_by_label("API key or token").fill(team.api_key)
    await page.page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()


def row(page: BrowserPage, job_id: str) -> Any:
    return page.page.locator(f'.job-row[data-job-id="{job_id}"]')


async def test_a_submitted_job_completes_live_and_its_image_decodes(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(5_000)
    await sign_in(page, stack, team)
    await expect(page.page.get_by_text("No jobs yet")).to_be_visible()
    job_id = await submit(stack, team, IMAGE, "a lighthouse at dusk, watercolour")
    line = row(page, job_id)
    await expect(line).to_be_visible()  # appeared without a reload, from jobsUpdated
    await expect(line.locator(".badge")).to_have_text("Completed", timeout=WAIT_MS)
    thumb = line.locator(".thumb-box img")
    await expect(thumb).to_have_count(1)
    await page.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await thumb.element_handle()
    )
    await page.screenshot("panel")

    await line.get_by_role("link", name="a lighthouse at dusk, watercolour").click()
    full = page.page.locator("img.preview-image")
    await expect(full).to_be_visible()
    await page.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await full.element_handle()
    )
    await expect(page.page.get_by_role("heading", name="Credits")).to_be_visible()
    await expect(page.page.locator(".ledger")).to_contain_text("Charged")
    await page.screenshot("job-page")


async def test_the_status_filter_is_in_the_url_and_filters(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(5_000)
    done = await submit(stack, team, IMAGE, "a bowl of lemons")
    failed = await submit(stack, team, IMAGE, "a poster that breaks [sim:fail]")
    await sign_in(page, stack, team)
    await expect(row(page, failed).locator(".badge")).to_have_text("Failed", timeout=WAIT_MS)
    await expect(row(page, done).locator(".badge")).to_have_text("Completed", timeout=WAIT_MS)

    await page.page.get_by_label("Status").select_option("FAILED")
    await page.page.wait_for_url("**/app/#/jobs?status=FAILED")
    await expect(row(page, done)).to_have_count(0)
    await expect(row(page, failed)).to_be_visible()
    await page.screenshot("failed-only")

    await page.page.reload()  # the filter comes back from the URL
    await expect(page.page.get_by_label("Status")).to_have_value("FAILED")
    await expect(row(page, failed)).to_be_visible()
    await expect(row(page, done)).to_have_count(0)
    await row(page, failed).get_by_role("link").first.click()
    await expect(page.page.get_by_role("heading", name="Why it failed")).to_be_visible()
    await expect(page.page.get_by_text("The provider could not make this one.")).to_be_visible()
    # A job alone in its batch has no "Batch" fact (it was shown as an empty row).
    await expect(page.page.locator(".ledger")).to_contain_text("Hold released")
    await expect(page.page.locator(".facts-list dt", has_text="Batch")).to_have_count(0)
    await page.screenshot("failed-job-page")


async def test_cancel_and_winner_from_the_panel(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(5_000)
    await sign_in(page, stack, team)
    # [sim:slow]: ten times the simulator's time, long enough to cancel it while it runs
    slow = await submit(stack, team, VIDEO, "a long take of rain on a window [sim:slow]")
    line = row(page, slow)
    # Once the provider has it, canceling charges its estimate: Cancel asks first, naming the charge.
    await expect(line.locator(".badge")).to_have_text("Processing", timeout=WAIT_MS)
    estimate = (
        await stack.data(team, "query ($id: ID!) { job(id: $id) { estimatedCostCents } }", {"id": slow})
    )["job"]["estimatedCostCents"]
    charge = f"${estimate / 100:,.2f}"
    await line.get_by_role("button", name="Cancel job").click()
    dialog = page.page.get_by_role("dialog", name="Cancel this job?")
    await expect(dialog).to_contain_text(f"canceling charges up to {charge}; if not yet, nothing")
    await page.screenshot("cancel-confirm")
    await dialog.get_by_role("button", name=f"Cancel anyway — up to {charge} may be charged").click()
    await expect(line.locator(".badge")).to_have_text("Canceled")
    await expect(page.page.locator(".live-msg")).to_contain_text(f": {charge} charged.")
    job = (await stack.data(team, "query ($id: ID!) { job(id: $id) { status costCents } }", {"id": slow}))[
        "job"
    ]
    assert job == {"status": "CANCELED", "costCents": estimate}
    await page.screenshot("canceled")

    image = await submit(stack, team, IMAGE, "a red kite over the hills")
    line = row(page, image)
    await expect(line.locator(".badge")).to_have_text("Completed", timeout=WAIT_MS)
    winner = line.get_by_role("button", name="Winner")
    await expect(winner).to_have_attribute("aria-pressed", "false")
    await winner.click()
    await expect(winner).to_have_attribute("aria-pressed", "true")
    assert (await stack.data(team, JOB, {"id": image}))["job"]["rating"] == "WINNER"

    await page.page.reload()
    await expect(row(page, image).get_by_role("button", name="Winner")).to_have_attribute(
        "aria-pressed", "true"
    )
    await page.page.get_by_label("Rating").select_option("WINNER")
    await expect(row(page, slow)).to_have_count(0)
    await expect(row(page, image)).to_be_visible()
    await page.screenshot("winners")


BATCH = """mutation($prompt: String!, $variants: Int!) {
  generateImage(input: {prompt: $prompt, variants: $variants, placements: [FEED, STORY]}) {
    batch { id } jobs { id } userErrors { message } } }"""


async def submit_batch(stack: Stack, team: Team, prompt: str, variants: int) -> tuple[str, list[str]]:
    payload = (await stack.data(team, BATCH, {"prompt": prompt, "variants": variants}))["generateImage"]
    assert payload["userErrors"] == [], payload
    return str(payload["batch"]["id"]), [str(job["id"]) for job in payload["jobs"]]


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_batch_filter_is_in_the_filter_bar(page: BrowserPage, stack: Stack, width: int) -> None:
    """Every filter is a control of the bar, the batch too: a select of the team's recent requests
    of several jobs, kept in the URL like the others, a batch submitted while the panel is open
    added to it live."""
    team = stack.create_team(10_000)
    lemons, lemon_jobs = await submit_batch(stack, team, "a bowl of lemons on a blue table", 1)
    alone = await submit(stack, team, IMAGE, "a single red kite")  # one job: not a batch to pick
    await page.page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, stack, team)
    batch = page.page.get_by_label("Batch", exact=True)
    await expect(batch.locator("option")).to_have_count(2)  # All, and the lemons' request
    mugs, mug_jobs = await submit_batch(stack, team, "a ceramic mug on linen", 2)  # while it is open
    await expect(batch.locator("option")).to_have_count(3)
    await expect(batch.locator("option").nth(1)).to_contain_text("“a ceramic mug on linen” · 4 jobs")
    await expect(batch.locator("option").nth(2)).to_contain_text(
        "“a bowl of lemons on a blue table” · 2 jobs"
    )

    await batch.select_option(lemons)
    await page.page.wait_for_url(f"**/app/#/jobs?batch={lemons}")
    for job in lemon_jobs:
        await expect(row(page, job)).to_be_visible()
    for job in [*mug_jobs, alone]:
        await expect(row(page, job)).to_have_count(0)
    await page.screenshot(f"batch-picked-{width}")

    # Reached by a link (the Jobs panel of a batch just submitted): the select names it.
    await page.page.goto(f"{stack.url}/app/#/jobs?batch={mugs}&status=COMPLETED")
    await expect(batch).to_have_value(mugs)
    await expect(page.page.get_by_label("Status")).to_have_value("COMPLETED")
    for job in mug_jobs:
        await expect(row(page, job)).to_be_visible(timeout=WAIT_MS)
    await batch.select_option("")
    await page.page.wait_for_url("**/app/#/jobs?status=COMPLETED")
    await expect(row(page, alone)).to_be_visible(timeout=WAIT_MS)
