"""What a new user's walkthrough found on the New generation forms, a job's page, Drive and a phone,
checked in a real Chromium (tests/browser.py) against the running stack:

- a recipe with several placements ticked makes one ad per placement (the API's recipe takes one
  placement), priced and listed as such; its price shows before the prompt is written, as the
  forms of one type do; the voice provider it starts on is the one marked Default;
- a video provider's card shows the price that applies to this request: Runway's text-to-video
  rate without a start image, its image-to-video rate with one (estimateCost's, the hold's);
  blurbs do not repeat the provider's own name;
- a job's page names the voice (the library's name), the placement (the placements query's), the
  model that ran, a composite's headline as a headline, and each ledger row once, a hold as
  "held" and a charge as negative;
- Drive: the list's Name cell lines up with its row, a search filters the folders, a long folder
  name is not cut at 1366 px, grid names show their distinguishing end with the full name as the
  tooltip, a logo is shown whole;
- a phone (390 px): the sign-in card keeps a margin, the nav is one row, "In-stream" stays whole.

Screenshots: var/screenshots/test_web_walk_fixes-*.png."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import FilePayload, Route, expect

from tests.browser import BrowserPage
from tests.stack import Stack, Team, follow_job
from tests.test_generation import upload_to_drive
from tests.test_web_new_drive import goto, png, sign_in

ESTIMATE_CREATIVE = "query($i: CreateCreativeInput!) { estimateCreative(input: $i) { cents } }"
VIDEOS = "query { jobs(first: 20, filter: { type: VIDEO }) { nodes { placement } } }"


LAST_CHARS_SHOWN = """(e, n) => {
  const text = e.querySelector("bdi").firstChild;
  const range = document.createRange();
  range.setStart(text, text.length - n);
  range.setEnd(text, text.length);
  const a = range.getBoundingClientRect(), b = e.getBoundingClientRect();
  return a.left >= b.left - 1 && a.right <= b.right + 1;
}"""


def logo_png(size: tuple[int, int] = (300, 120)) -> bytes:
    """A wide logo on a transparent background: a red disc at the left, a bar at the right."""
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((4, 4, size[1] - 4, size[1] - 4), fill=(200, 30, 30, 255))
    draw.rectangle((size[0] - 90, 50, size[0] - 10, 70), fill=(20, 20, 20, 255))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


async def wait_text(page: BrowserPage, testid: str, text: str) -> None:
    await page.page.wait_for_function(
        "([id, text]) => document.querySelector(`[data-testid=${id}]`)?.textContent === text",
        arg=[testid, text],
    )


async def test_a_recipe_makes_one_ad_per_placement(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(10_000)
    await sign_in(page, stack, team)
    await goto(page, stack, "/new/video-voiceover")
    p = page.page
    # The voice provider selected is the one the guide marks Default.
    tts = p.locator("fieldset[data-field=ttsProvider] .provider-card.selected")
    await tts.wait_for()
    assert await tts.locator(".badge").inner_text() == "Default"
    # The narration is priced per character; the prompt is not: the price shows without it.
    await p.fill("#voText", "Wake up to something better.")
    await p.get_by_label("Reels").check()
    await p.get_by_label("In-stream").check()
    assert await p.get_by_label("Reels").is_checked()
    assert await p.get_by_label("In-stream").is_checked()
    await p.get_by_text("2 ads, one per placement").first.wait_for()

    def recipe(placement: str) -> dict[str, Any]:
        return {
            "recipe": "VIDEO_WITH_VOICEOVER",
            "videoWithVoiceover": {
                "video": {"prompt": "Your prompt", "provider": "RUNWAY_GEN4", "placement": placement},
                "voiceover": {"text": "Wake up to something better.", "provider": "OPENAI_TTS"},
            },
        }

    each = [
        (await stack.data(team, ESTIMATE_CREATIVE, {"i": recipe(pl)}))["estimateCreative"]["cents"]
        for pl in ("REELS", "IN_STREAM")
    ]
    await wait_text(page, "estimate-total", dollars(sum(each)))
    await page.screenshot("vvo-two-placements")

    await p.fill("#prompt", "Steam rising from a coffee cup, morning light")
    await p.get_by_test_id("submit").click()
    await p.get_by_text("2 ads accepted, one per placement.").wait_for()
    assert await p.get_by_test_id("creative-made").count() == 2
    await page.screenshot("vvo-two-ads")
    made = (await stack.data(team, VIDEOS))["jobs"]["nodes"]
    assert sorted(j["placement"] for j in made) == ["IN_STREAM", "REELS"], made


JOB_TYPES = "query { jobs(first: 50) { nodes { type placement } } }"


@pytest.mark.parametrize(
    ("form", "failure"),
    [("recipe", "no-answer"), ("recipe", "fault"), ("image", "no-answer")],
    ids=["recipe-no-answer", "recipe-fault", "image-no-answer"],
)
async def test_submit_again_after_a_lost_answer_makes_each_ad_once(
    page: BrowserPage, stack: Stack, form: str, failure: str
) -> None:
    """The submission reaches the service and is made (held), but the browser gets no answer (the
    connection drops) or a fault (errors, no data). The form says it may have been made and that
    submitting again unchanged is safe; it is: the second submission answers the same ads (the same
    idempotency keys), nothing is made twice."""
    team = stack.create_team(10_000)
    await sign_in(page, stack, team)
    p = page.page
    page.allow_errors("ERR_CONNECTION_RESET|Failed to load resource")
    mutation = "mutation CreateCreatives(" if form == "recipe" else "mutation Generate("
    sent: list[dict[str, Any]] = []

    async def lose_the_first_answer(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        if not body.get("query", "").startswith(mutation):
            await route.fallback()
            return
        sent.append(body["variables"])
        if len(sent) > 1:
            await route.fallback()
            return
        await route.fetch()  # it reaches the service, and is made...
        if failure == "no-answer":  # ...but its answer is lost
            await route.abort("connectionreset")
        else:  # ...but a later field failed: errors, no data
            fault = {"message": "Internal server error", "locations": [], "path": ["c1"]}
            await route.fulfill(json={"data": None, "errors": [fault]})

    await p.route("**/graphql", lose_the_first_answer)
    if form == "recipe":
        await goto(page, stack, "/new/video-voiceover")
        await p.fill("#voText", "Wake up to something better.")
        await p.get_by_label("Reels").check()
        await p.get_by_label("In-stream").check()
        await p.fill("#prompt", "Steam rising from a coffee cup, morning light")
        await p.get_by_text("2 ads, one per placement").first.wait_for()
        # the form as it stands: its voice provider and voice set (their defaults arrive by themselves)
        await p.locator("fieldset[data-field=ttsProvider] .provider-card.selected").wait_for()
        await p.locator('input[name="voiceover.voiceId"]:checked').wait_for(state="attached")
    else:
        await goto(page, stack, "/new/image")
        await p.fill("#prompt", "A ceramic mug on a linen table, soft window light")
        await p.get_by_test_id("estimate-total").wait_for()
    await p.get_by_test_id("submit").click()

    summary = p.get_by_test_id("error-summary")
    await expect(summary).to_be_visible()
    await expect(summary.get_by_role("heading")).to_have_text(
        "No answer" if failure == "no-answer" else "The request failed"
    )
    if failure == "no-answer":
        await expect(summary).to_contain_text("the request may not have arrived, or it may have been made")
    else:
        await expect(summary).to_contain_text(
            "Internal server error. Some of the ads may already have been made."
        )
    await expect(summary).to_contain_text(
        "Submit again without changing the form: anything already made is returned, not made or charged twice."
    )
    await expect(summary).not_to_contain_text("nothing was sent")
    await page.screenshot(f"{form}-{failure}")
    made = (await stack.data(team, JOB_TYPES))["jobs"]["nodes"]
    first = sorted(j["type"] for j in made)
    assert first == (
        ["COMPOSITE", "COMPOSITE", "TTS", "TTS", "VIDEO", "VIDEO"] if form == "recipe" else ["IMAGE"]
    ), made

    # submitted again, unchanged: the same ads come back; nothing more is made
    await p.get_by_test_id("submit").click()
    if form == "recipe":
        await p.get_by_text("2 ads accepted, one per placement.").wait_for()
        assert await p.get_by_test_id("creative-made").count() == 2
    else:
        await p.wait_for_function("location.hash.startsWith('#/jobs?batch=')")
    await page.screenshot(f"{form}-{failure}-again")
    assert len(sent) == 2 and sent[0] == sent[1], json.dumps(sent)  # the same keys, the same input
    assert sorted(j["type"] for j in (await stack.data(team, JOB_TYPES))["jobs"]["nodes"]) == first


async def test_a_video_card_shows_the_price_of_this_request(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(10_000)
    await sign_in(page, stack, team)
    p = page.page
    await goto(page, stack, "/new/image")
    sunburst = p.locator(
        ".provider-card:has(.provider-head strong:text-is('GPT Image 2.6 Sunburst')) .provider-strengths"
    )
    assert "(GPT Image 2.6 Sunburst)" not in await sunburst.inner_text()

    await goto(page, stack, "/new/video")
    runway = p.locator(".provider-card:has(.provider-head strong:text-is('Runway Gen-4'))").get_by_test_id(
        "provider-price"
    )
    await p.wait_for_function(
        "() => [...document.querySelectorAll('.provider-card')].some((c) => c.textContent.includes('Runway Gen-4')"
        " && c.querySelector('[data-testid=provider-price]'))"
    )
    # Text-only: the text-to-video rate, the one the estimate (and the hold) is at.
    assert await runway.inner_text() == "12¢ / second text-to-video"
    await wait_text(page, "estimate-total", "$0.60")  # Runway's default 5 s
    await page.screenshot("video-text-only-price")

    await p.set_input_files(
        "#startImage-upload",
        files=[FilePayload(name="first.png", mimeType="image/png", buffer=png((200, 120, 40), (1280, 720)))],
    )
    await p.get_by_test_id("startImage-chosen").wait_for()
    await p.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=provider-price]')].some((e) => e.textContent === '5¢ / second from a start image')"
    )
    await wait_text(page, "estimate-total", "$0.25")
    await page.screenshot("video-start-image-price")


async def completed(stack: Stack, team: Team, mutation: str, variables: dict[str, Any]) -> str:
    data = await stack.data(team, mutation, variables)
    out = next(iter(data.values()))
    assert not out["userErrors"], out
    job_id: str = out["jobs"][0]["id"]
    assert (await follow_job(stack, team, job_id))[-1]["status"] == "COMPLETED"
    return job_id


def dd(page: BrowserPage, term: str) -> Any:
    return page.page.locator(f"xpath=//dt[normalize-space()='{term}']/following-sibling::dd[1]")


async def test_a_job_page_says_things_in_words(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(10_000)
    tts = await completed(
        stack,
        team,
        "mutation($i: GenerateTtsInput!) { generateTts(input: $i) { jobs { id } userErrors { message } } }",
        {
            "i": {
                "text": "Wake up to something better.",
                "provider": "ELEVENLABS",
                "voiceId": "JBFqnCBsd6RMkjVDRZzb",
            }
        },
    )
    video = await completed(
        stack,
        team,
        "mutation($i: GenerateVideoInput!) { generateVideo(input: $i) { jobs { id } userErrors { message } } }",
        {"i": {"prompt": "A lake at dawn", "provider": "RUNWAY_GEN4", "placements": ["IN_STREAM"]}},
    )
    background = upload_to_drive(stack, team, "background.png", png((30, 90, 160), (640, 640)))
    source = {
        "output_format": "png",
        "width": 1080,
        "height": 1080,
        "elements": [
            {"name": "Background", "type": "image", "width": "100%", "height": "100%", "fit": "cover"},
            {"name": "Headline", "type": "text", "text": "Cold brew, bold mornings", "y": "14%"},
        ],
    }
    composite = await completed(
        stack,
        team,
        "mutation($i: GenerateCompositeInput!) { generateComposite(input: $i) { jobs { id } userErrors { message } } }",
        {
            "i": {
                "provider": "CREATOMATE",
                "source": source,
                "inputs": [{"name": "Background", "fileId": background}],
                "prompt": "Cold brew, bold mornings",
            }
        },
    )
    await sign_in(page, stack, team)
    p = page.page

    await goto(page, stack, f"/jobs/{tts}")
    await p.wait_for_function(
        "() => [...document.querySelectorAll('dt')].find((d) => d.textContent === 'Voice')?.nextElementSibling.textContent.startsWith('George')"
    )
    assert "JBFqnCBsd6RMkjVDRZzb" not in await dd(page, "Voice").inner_text()
    rows = p.get_by_test_id("ledger-row")
    await p.wait_for_function("() => document.querySelectorAll('[data-testid=ledger-row]').length === 2")
    texts = [" ".join((await rows.nth(i).inner_text()).split()) for i in range(2)]
    assert texts[0].endswith("Held while it runs $0.01 held"), texts
    assert texts[1].endswith("Charged −$0.01"), texts
    ledger = await p.locator("section[aria-labelledby=ledger-h]").inner_text()
    assert "hold for job" not in ledger and "charge for completed job" not in ledger, ledger
    await page.screenshot("job-tts")

    await goto(page, stack, f"/jobs/{video}")
    await dd(page, "Placement").wait_for()
    await p.wait_for_function(
        "() => [...document.querySelectorAll('dt')].find((d) => d.textContent === 'Placement')?.nextElementSibling.textContent === 'In-stream'"
    )
    assert await dd(page, "Model").inner_text() == "gen4.5"  # text-only: the model that ran
    await page.screenshot("job-video")

    await goto(page, stack, f"/jobs/{composite}")
    await dd(page, "Headline").wait_for()
    assert await dd(page, "Headline").inner_text() == "Cold brew, bold mornings"
    assert not await dd(page, "Prompt").count()
    await page.screenshot("job-composite")


async def test_drive_lists_searches_and_names_files_apart(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(1_000)
    long_a = "image-flux_2_pro-iced-coffee-glass-with-a-paper-straw-feed-1.jpg"
    long_b = "image-flux_2_pro-iced-coffee-glass-with-a-paper-straw-story-2.jpg"
    for name in (long_a, long_b):
        buffer = io.BytesIO()
        Image.new("RGB", (320, 240), (90, 40, 160)).save(buffer, "JPEG")
        upload_to_drive(stack, team, name, buffer.getvalue())
    upload_to_drive(stack, team, "logo.png", logo_png())
    await stack.data(
        team, 'mutation { createDriveFolder(name: "Campaign – Cold brew Q1") { folder { id } } }'
    )
    await sign_in(page, stack, team, width=1366)
    await goto(page, stack, "/drive")
    p = page.page
    await p.locator("[data-testid=file] img").nth(2).wait_for()

    # A folder's whole name shows (two lines at most), not "Campaign – …".
    campaign = p.locator(".folder-name", has_text="Campaign")
    assert await campaign.evaluate(
        "(e) => e.scrollHeight <= e.clientHeight + 1 && e.scrollWidth <= e.clientWidth + 1"
    )
    # Grid names: the distinguishing ends are visible; the full name is the tooltip.
    for name, end in ((long_a, "feed-1.jpg"), (long_b, "story-2.jpg")):
        tile = p.locator(f"[data-testid=file]:has([title='{name}'])")
        tail = tile.locator(".mid-tail")
        assert (await tail.inner_text()).endswith(end)
        # Its last characters are inside the tile's line (a cut, if any, is at the tail's start).
        assert await tail.evaluate(LAST_CHARS_SHOWN, len(end)), name
    # The logo is shown whole, on a checkerboard, not cropped to fill the tile.
    logo = p.locator("[data-testid=file]:has([title='logo.png']) img")
    assert await logo.evaluate("(e) => getComputedStyle(e).objectFit") == "contain"
    await page.screenshot("drive-grid")

    # Search filters the folders too.
    await p.fill("#drive-search", "zzzz")
    await p.get_by_text("No file matches").wait_for()
    assert await p.get_by_test_id("folder").count() == 0
    await p.fill("#drive-search", "campaign")
    await p.wait_for_function("() => document.querySelectorAll('[data-testid=folder]').length === 1")
    assert "Campaign – Cold brew Q1" in await p.get_by_test_id("folder").inner_text()
    await p.fill("#drive-search", "")

    # The list: the Name cell is a cell of its row (same top and bottom), on a desktop and a phone.
    await p.get_by_role("button", name="List").click()
    for width in (1366, 390):
        await p.set_viewport_size({"width": width, "height": 900})
        row = p.locator("tr[data-testid=file]", has_text="story-2")
        await row.wait_for()
        cell, line = await row.locator("td.name-cell").bounding_box(), await row.bounding_box()
        assert cell and line
        assert abs(cell["y"] - line["y"]) < 1.5 and abs(cell["height"] - line["height"]) < 1.5, (
            width,
            cell,
            line,
        )
        assert (
            await row.locator("td.name-cell").evaluate("(e) => getComputedStyle(e).display") == "table-cell"
        )
        # and its name tells it apart there too: the distinguishing end shows, the size on one line
        tail = row.locator(".mid-tail")
        assert (await tail.inner_text()).endswith("story-2.jpg"), width
        assert await tail.evaluate(LAST_CHARS_SHOWN, len("story-2.jpg")), width
        assert await row.locator("td.num").evaluate("(e) => getComputedStyle(e).whiteSpace") == "nowrap"
        assert await p.evaluate("document.documentElement.scrollWidth <= innerWidth"), (
            width
        )  # no sideways scroll
        await row.scroll_into_view_if_needed()
        await page.screenshot(f"drive-list-{width}")


@pytest.mark.parametrize("width", [390])
async def test_a_phone_keeps_margins_one_nav_row_and_whole_words(
    page: BrowserPage, stack: Stack, width: int
) -> None:
    team = stack.create_team(1_000)
    p = page.page
    await p.set_viewport_size({"width": width, "height": 844})
    await p.goto(f"{stack.url}/app/")
    card = await p.locator(".signin").bounding_box()
    assert card and card["x"] >= 8 and card["x"] + card["width"] <= width - 8, card
    await page.screenshot("phone-signin")
    await sign_in(page, stack, team, width=width)
    for route in ("/jobs", "/new", "/new/image", "/drive", "/billing"):
        await goto(page, stack, route)
        links = p.locator("header.top nav a")
        await links.first.wait_for()
        tops = {
            round((await links.nth(i).bounding_box() or {"y": -1})["y"]) for i in range(await links.count())
        }
        assert len(tops) == 1, (route, tops)
    await goto(page, stack, "/new/image")
    stream = p.locator(".placement-text strong", has_text="In-stream")
    await stream.wait_for()
    assert await stream.evaluate(
        "(e) => e.getClientRects().length === 1 && e.offsetHeight < parseFloat(getComputedStyle(e).lineHeight) * 1.5"
    )
    await page.screenshot("phone-image-form")
