"""New generation and Drive in a real Chromium (tests/browser.py) against the running stack, as a
user works them: signed in with the team's API key typed into the sign-in form.

- The live estimate follows the variants (the total shown is estimateCost's for the same input,
  asked over the API), and a video longer than its placement's target shows the refusal in words.
- The video + voice-over recipe is one form: submitted, its creative's three jobs are listed.
- An image in 2 variants is submitted: the page lands on the Jobs panel of its batch, which holds
  2 jobs.
- Drive: two files uploaded through the file chooser (progress, then "Uploaded"), shown with their
  thumbnail; one renamed, then deleted after the confirmation.
- An upload-based job: a PNG dropped on the composite form's background (a drag-and-drop), then
  submitted; the composite job is accepted with that file as its input.
- The avatar form fetches nothing from another machine: every request the page makes (the avatar
  previews and a voice sample included, served by the simulator) goes to loopback, and the app's
  own to the server's origin.

Screenshots (desktop 1280 and phone 390 widths): var/screenshots/test_web_new_drive-*.png."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import struct
import wave
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from playwright.async_api import FilePayload, Locator, Request, Route, expect

from tests.browser import BrowserPage
from tests.stack import Stack, Team

BATCH = "query($id: ID!) { batch(id: $id) { jobs { id type status settings } } }"
ESTIMATE = "query($input: EstimateCostInput!) { estimateCost(input: $input) { cents } }"


def png(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(int(seconds * rate))))
    return out.getvalue()


async def sign_in(page: BrowserPage, stack: Stack, team: Team, width: int = 1280) -> None:
    await page.page.set_viewport_size({"width": width, "height": 900})
    await page.page.goto(f"{stack.url}/app/")
    await page.page.fill("#credential", team.api_key)
    await page.page.get_by_role("button", name="Sign in", exact=True).click()
    await page.page.wait_for_selector("header.top")


async def goto(page: BrowserPage, stack: Stack, route: str) -> None:
    await page.page.goto(f"{stack.url}/app/#{route}")


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


async def test_the_estimate_follows_variants_and_a_long_placement_is_refused(
    page: BrowserPage, stack: Stack
) -> None:
    team = stack.create_team(10_000)
    await sign_in(page, stack, team)
    await goto(page, stack, "/new/image")
    p = page.page
    await p.fill("#prompt", "A red sneaker on wet sand at golden hour")
    await p.get_by_label("Feed").check()
    await p.get_by_label("Story").check()
    total = p.get_by_test_id("estimate-total")
    for variants in (1, 3):
        await p.fill("#variants", str(variants))
        asked = {
            "type": "IMAGE",
            "provider": "FLUX_2_PRO",
            "variants": variants,
            "placements": ["FEED", "STORY"],
        }
        cents = (await stack.data(team, ESTIMATE, {"input": asked}))["estimateCost"]["cents"]
        await p.wait_for_function(
            "(text) => document.querySelector('[data-testid=estimate-total]')?.textContent === text",
            arg=dollars(cents),
        )
        assert await total.text_content() == dollars(cents)
    await p.get_by_text(f"{3 * 2} jobs on FLUX.2 pro").wait_for()
    await page.screenshot("image-estimate")

    await goto(page, stack, "/new/video")
    await p.fill("#prompt", "A slow pan over a mountain lake at dawn")
    await p.get_by_label("Story").check()
    await p.select_option("#durationSeconds", "10")
    error = p.get_by_test_id("estimate-error")
    await error.wait_for()
    # The API's words for developers (durationSeconds, allowLongerThanPlacement, STORY) read as the
    # form's own labels.
    said = await error.text_content() or ""
    assert "A duration of 10 s is longer than Story's target of 5 seconds" in said, said
    assert "tick “Allow longer than the placement's target”" in said, said
    assert "durationSeconds" not in said and "allowLongerThanPlacement" not in said, said
    await page.screenshot("video-refused")
    await p.get_by_label("Allow longer than the placement's target").check()
    await total.wait_for()
    await page.screenshot("video-allowed")

    # The video + voice-over recipe: one form, three jobs (video, voice-over, their composite).
    await goto(page, stack, "/new/video-voiceover")
    await p.fill("#prompt", "Steam rising from a coffee cup, morning light")
    await p.fill("#voText", "Wake up to something better.")
    await p.get_by_text("composite · Creatomate").wait_for()
    await page.screenshot("video-voiceover")
    await p.get_by_test_id("submit").click()
    await p.get_by_text("Creative accepted").wait_for()
    assert await p.locator(".submitted-jobs tbody tr").count() == 3
    await page.screenshot("video-voiceover-submitted")


async def test_a_price_below_a_cent_is_shown_not_rounded_to_free(page: BrowserPage, stack: Stack) -> None:
    """The provider guide's price per character: a fraction of a cent, not "0¢"."""
    team = stack.create_team(10_000)
    await sign_in(page, stack, team)
    await goto(page, stack, "/new/tts")
    p = page.page

    def price(name: str) -> Locator:
        return p.locator("label.provider-card", has_text=name).locator('[title="Price"]')

    await price("OpenAI TTS").wait_for()
    assert await price("OpenAI TTS").inner_text() == "0.0015¢ / character"
    assert await price("ElevenLabs").inner_text() == "0.01¢ / character"


async def test_an_image_in_two_variants_lands_on_the_jobs_panel(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(10_000)
    await sign_in(page, stack, team, width=390)
    await goto(page, stack, "/new/image")
    p = page.page
    await p.fill("#prompt", "A ceramic mug on a linen table, soft window light")
    await p.fill("#variants", "2")
    await p.get_by_test_id("estimate-total").wait_for()
    await page.screenshot("image-phone")
    await p.get_by_test_id("submit").click()
    await p.wait_for_function("location.hash.startsWith('#/jobs?batch=')")
    batch_id = parse_qs((await p.evaluate("location.hash")).split("?", 1)[1])["batch"][0]
    jobs = (await stack.data(team, BATCH, {"id": batch_id}))["batch"]["jobs"]
    assert [job["type"] for job in jobs] == ["IMAGE", "IMAGE"]

    # A refused request: the userError next to its field and in the summary, focused.
    await goto(page, stack, "/new/image")
    await p.fill("#prompt", "x" * 20)
    await p.fill("#variants", "9")
    await p.get_by_test_id("submit").click()
    summary = p.get_by_test_id("error-summary")
    await summary.wait_for()
    assert await summary.evaluate("(el) => el === document.activeElement")
    assert await p.locator('[data-field="variants"] .field-error').count() == 1
    await page.screenshot("refused-phone")

    # A blank prompt is named in words at its field, not as a GraphQL variable error.
    await p.fill("#variants", "1")
    await p.fill("#prompt", "")
    await p.get_by_test_id("submit").click()
    await expect(summary).to_contain_text("Write a prompt")
    await expect(summary).not_to_contain_text("Variable")
    await expect(p.locator('[data-field="prompt"] .field-error')).to_have_count(1)


async def test_drive_uploads_renames_deletes_and_feeds_a_composite(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(10_000)
    await sign_in(page, stack, team)
    await goto(page, stack, "/drive")
    p = page.page
    await p.get_by_text("No files here yet").wait_for()
    # The PUTs are held until the page has shown their progress (else a local upload is too quick to see).
    seen = asyncio.Event()

    async def hold(route: Route) -> None:
        await seen.wait()
        await route.continue_()

    await p.route("**/uploads/**", hold)
    await p.set_input_files(
        "#drive-upload",
        files=[
            FilePayload(name="sunset.png", mimeType="image/png", buffer=png((230, 120, 40))),
            FilePayload(name="jingle.wav", mimeType="audio/wav", buffer=wav()),
        ],
    )
    items = p.get_by_test_id("upload-item")
    await items.nth(1).wait_for()
    await p.locator('progress[aria-label="Uploading sunset.png"]').wait_for()
    await page.screenshot("drive-uploading")
    seen.set()
    await p.locator(".upload-done").nth(1).wait_for()
    assert await p.locator(".upload-done").count() == 2
    tile = p.locator("[data-testid=file]", has_text="sunset.png")
    await tile.wait_for()
    # Its thumbnail (Drive's WebP) decoded.
    await tile.locator("img").wait_for()
    await tile.locator("img").evaluate(
        "(img) => img.decode().then(() => { if (!img.naturalWidth) throw new Error('no thumbnail') })"
    )
    await page.screenshot("drive-uploaded")

    # Rename through the file's menu.
    await tile.locator("summary").click()
    await tile.get_by_role("button", name="Rename").click()
    await p.fill("#name-input", "beach")
    await p.get_by_role("button", name="Rename", exact=True).click()
    renamed = p.locator("[data-testid=file]", has_text="beach.png")
    await renamed.wait_for()
    await page.screenshot("drive-renamed")

    # Delete the audio file after the confirmation.
    audio = p.locator("[data-testid=file]", has_text="jingle.wav")
    await audio.locator("summary").click()
    await audio.get_by_role("button", name="Delete").click()
    await p.get_by_role("dialog").get_by_text("This cannot be undone").wait_for()
    await page.screenshot("drive-confirm-delete")
    await p.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await audio.wait_for(state="detached")
    await p.get_by_text("Deleted “jingle.wav”").wait_for()

    # Drag and drop a PNG onto the composite form's background, then submit an upload-based job.
    await goto(page, stack, "/new/composite")
    data = base64.b64encode(png((20, 90, 200), (640, 640))).decode()
    await p.locator('[data-field="background"] [data-testid=dropzone]').evaluate(
        """(zone, data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "poster-bg.png", { type: "image/png" }));
            zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        data,
    )
    await p.get_by_test_id("background-chosen").get_by_text("poster-bg.png").wait_for()
    await p.fill("#headline", "Summer sale")
    await p.get_by_test_id("estimate-total").wait_for()
    await page.screenshot("composite-from-upload")
    await p.get_by_test_id("submit").click()
    await p.wait_for_function("location.hash.startsWith('#/jobs?batch=')")
    batch_id = re.search(r"batch=([0-9a-f-]+)", await p.evaluate("location.hash")).group(1)  # type: ignore[union-attr]
    jobs = (await stack.data(team, BATCH, {"id": batch_id}))["batch"]["jobs"]
    assert len(jobs) == 1 and jobs[0]["type"] == "COMPOSITE", jobs


@pytest.mark.parametrize("width", [390])
async def test_drive_on_a_phone(page: BrowserPage, stack: Stack, width: int) -> None:
    team = stack.create_team(1_000)
    await stack.data(team, 'mutation { createDriveFolder(name: "Spring campaign") { folder { id } } }')
    await sign_in(page, stack, team, width=width)
    await goto(page, stack, "/drive")
    await page.page.set_input_files(
        "#drive-upload", files=[FilePayload(name="logo.png", mimeType="image/png", buffer=png((40, 160, 90)))]
    )
    await page.page.locator("[data-testid=file] img").wait_for()
    await page.screenshot("drive-phone")


LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


async def test_the_avatar_form_fetches_nothing_from_another_machine(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(1_000)
    requested: list[str] = []

    def record(request: Request) -> None:
        if not request.url.startswith(("data:", "blob:")):
            requested.append(request.url)

    page.page.on("request", record)
    await sign_in(page, stack, team)
    await goto(page, stack, "/new/avatar")
    p = page.page
    # the first looks' previews are decoded images (the simulator's, not HeyGen's CDN)
    await p.wait_for_function(
        """() => {
            const imgs = [...document.querySelectorAll(".avatar-grid img.avatar-img")].slice(0, 6);
            return imgs.length === 6 && imgs.every((img) => img.complete && img.naturalWidth > 0);
        }""",
        timeout=30_000,
    )
    # a voice sample loads and has a duration (preload="none" until asked: ask for one)
    sample = p.locator("audio.voice-preview").first
    await sample.wait_for()
    duration = await sample.evaluate(
        """(audio) => new Promise((resolve, reject) => {
            audio.addEventListener("loadedmetadata", () => resolve(audio.duration), { once: true });
            audio.addEventListener("error", () => reject(new Error("the sample did not load")), { once: true });
            audio.preload = "metadata";
            audio.load();
        })"""
    )
    assert duration > 0.5
    await p.locator(".avatar-picker").scroll_into_view_if_needed()
    await page.screenshot("avatar-form-offline-previews", selector=".avatar-picker")
    origin = urlsplit(stack.url)
    outside = [url for url in requested if urlsplit(url).hostname not in LOOPBACK]
    assert not outside, f"requests that leave the machine: {outside}"
    previews = [url for url in requested if "/_library/" in url]
    assert any(url.endswith(".webp") for url in previews) and any(url.endswith(".mp3") for url in previews)
    # everything but the simulator's previews is the app's own origin
    foreign = [u for u in requested if "/_library/" not in u and urlsplit(u).netloc != origin.netloc]
    assert not foreign, foreign
