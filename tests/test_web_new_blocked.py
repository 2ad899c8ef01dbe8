"""The New generation form when the request is impossible as set, in a real Chromium against the
running stack (tests/browser.py), and the placements it reads from the API.

- The default video provider (Runway Gen-4, text-to-video in 16:9 and 9:16 only) cannot render the
  Feed (1:1): while no provider was picked, ticking Feed moves the form to the provider generate*
  itself would use (Kling 3.0), saying so; with Runway picked by hand, Generate turns off (aria-disabled, described by the reason beside it), in the form's
  words with the ways out; pressing it sends nothing and names the reason in the error summary;
  the way out "Choose another provider" leads to the provider guide; another provider turns it
  back on. Variants out of range, and more than the team's available credits, turn it off too.
- The refusal is read by its code and extensions.field, not its words: reworded by the server,
  the form still names the placement the provider cannot render.
- An estimate that is still on its way, or that got no answer (the network), never turns it off:
  the submission's answer decides.
- The placements come from the API's placements query (one home: providers/catalog.py), with what
  the chosen provider makes of each.

Screenshots (1280 and 390 px wide): var/screenshots/test_web_new_blocked-*.png."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import Locator, Page, Request, Route, expect

from tests.browser import BrowserPage
from tests.stack import Stack, Team

ESTIMATE = "query($input: EstimateCostInput!) { estimateCost(input: $input) { cents } }"
PLACEMENTS = "{ placements { placement name aspectRatio targetDurationSeconds } }"


async def sign_in(page: BrowserPage, stack: Stack, team: Team, width: int = 1280) -> Page:
    p = page.page
    await p.set_viewport_size({"width": width, "height": 900})
    await p.goto(f"{stack.url}/app/")
    await p.fill("#credential", team.api_key)
    await p.get_by_role("button", name="Sign in", exact=True).click()
    await p.wait_for_selector("header.top")
    return p


def operations(page: BrowserPage) -> list[str]:
    """The GraphQL documents the page has posted so far."""
    sent = []
    for response in page.responses:
        request = response.request
        if request.method == "POST" and request.url.endswith("/graphql") and request.post_data:
            sent.append(json.loads(request.post_data)["query"])
    return sent


def provider(p: Page, name: str) -> Locator:
    """A provider's radio in the provider guide."""
    return p.locator(f"input[name=provider][value={name}]")


async def blocked(p: Page) -> None:
    submit = p.get_by_test_id("submit")
    await expect(submit).to_have_attribute("aria-disabled", "true")
    await expect(submit).to_have_attribute("aria-describedby", "submit-blocked")


async def open_(p: Page) -> None:
    await expect(p.get_by_test_id("submit")).not_to_have_attribute("aria-disabled", "true")


async def test_runway_cannot_render_the_feed_so_generate_is_off_until_it_is_fixed(
    page: BrowserPage, stack: Stack
) -> None:
    team = stack.create_team(10_000)
    p = await sign_in(page, stack, team)
    await p.goto(f"{stack.url}/app/#/new/video")
    await p.fill("#prompt", "A slow pan over a mountain lake at dawn")
    await expect(provider(p, "RUNWAY_GEN4")).to_be_checked()  # the default video provider
    await p.get_by_test_id("estimate-total").wait_for()
    await open_(p)

    # The picker says before any estimate what Runway makes of the Feed.
    feed = p.locator("label.placement", has_text="Feed")
    await expect(feed).to_contain_text("Runway Gen-4: with a start image")
    # Ticked while no provider was picked: the form uses the provider generate* would, saying so.
    await p.get_by_label("Feed").check()
    await expect(provider(p, "KLING_3_0")).to_be_checked()
    await expect(p.locator(".provider-switched")).to_have_text(
        "Runway Gen-4 (the default) cannot make Feed 1:1 from text, so Kling 3.0 is used. "
        "Pick another provider above if you prefer."
    )
    await open_(p)
    await expect(p.get_by_text("1 job on Kling 3.0")).to_be_visible()  # priced on the provider used
    await page.screenshot("feed-switches-from-the-default")

    # Runway picked by hand: the form keeps it, and Generate is off, saying why.
    await provider(p, "RUNWAY_GEN4").check()
    await expect(p.locator(".provider-switched")).to_have_count(0)
    await blocked(p)
    why = p.get_by_test_id("estimate-error")
    await expect(why).to_have_text(
        "Runway Gen-4 cannot render Feed 1:1 without a start image — choose another "
        "provider or placement, or add a start image."
    )
    await expect(p.get_by_test_id("submit-blocked")).to_contain_text(
        "Luma Ray3, Kling 2.6 and Kling 3.0 render Feed."
    )
    # The button's accessible description is the reason (what a screen reader says on it).
    await expect(p.get_by_test_id("submit")).to_have_accessible_description(
        re.compile("^Runway Gen-4 cannot render Feed 1:1 without a start image")
    )
    await page.screenshot("feed-on-runway-blocked")

    # Pressing it (it keeps its place in the tab order) sends nothing: the reason goes to the error
    # summary, focused.
    before = len([q for q in operations(page) if "generateVideo" in q])
    await p.get_by_test_id("submit").focus()
    await p.keyboard.press("Enter")
    summary = p.get_by_test_id("error-summary")
    await expect(summary).to_contain_text("Runway Gen-4 cannot render Feed 1:1")
    await expect(summary).to_be_focused()
    assert len([q for q in operations(page) if "generateVideo" in q]) == before

    # The way out leads to the provider guide; another provider turns Generate back on.
    await p.get_by_role("button", name="Choose another provider").click()
    await expect(provider(p, "RUNWAY_GEN4")).to_be_focused()
    await provider(p, "KLING_3_0").check()
    await open_(p)
    await expect(p.get_by_test_id("submit-blocked")).to_have_count(0)
    await p.get_by_test_id("estimate-total").wait_for()
    await page.screenshot("feed-on-kling-open")

    # Variants out of range: off, with the way to the field; back on when fixed.
    await p.fill("#variants", "6")
    await blocked(p)
    await expect(p.get_by_test_id("estimate-error")).to_contain_text("Variants must be from 1 to 5; got 6")
    await p.get_by_role("button", name="Change “Variants”").click()
    await expect(p.locator("#variants")).to_be_focused()
    await p.fill("#variants", "2")
    await open_(p)
    await p.get_by_test_id("submit").click()
    await p.wait_for_function("location.hash.startsWith('#/jobs?batch=')")


async def test_on_a_phone_the_reason_sits_by_the_button(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(10_000)
    p = await sign_in(page, stack, team, width=390)
    await p.goto(f"{stack.url}/app/#/new/video")
    await p.fill("#prompt", "A slow pan over a mountain lake at dawn")
    await p.get_by_label("Feed").check()
    await expect(provider(p, "KLING_3_0")).to_be_checked()  # moved off the default, saying so
    await provider(p, "RUNWAY_GEN4").check()  # picked by hand: the form keeps it
    await blocked(p)
    reason = p.get_by_test_id("estimate-error")
    await expect(reason).to_be_in_viewport()  # in the sticky bar with the button
    await expect(p.get_by_role("button", name="Choose another provider")).to_be_in_viewport()
    await page.screenshot("phone-blocked")


async def test_more_than_the_available_credits_turns_generate_off(page: BrowserPage, stack: Stack) -> None:
    one = {"type": "IMAGE", "provider": "FLUX_2_PRO", "variants": 1}
    cents = (await stack.data(stack.create_team(10_000), ESTIMATE, {"input": one}))["estimateCost"]["cents"]
    team = stack.create_team(cents)  # enough for one image, not two
    p = await sign_in(page, stack, team)
    await p.goto(f"{stack.url}/app/#/new/image")
    await p.fill("#prompt", "A ceramic mug on a linen table, soft window light")
    await p.get_by_test_id("estimate-total").wait_for()
    await open_(p)
    await p.fill("#variants", "2")
    await blocked(p)
    await expect(p.get_by_test_id("estimate-balance")).to_contain_text("available")
    await expect(p.get_by_role("link", name="Top up in Billing")).to_have_attribute("href", "#/billing")
    await page.screenshot("over-the-balance")
    await p.fill("#variants", "1")
    await open_(p)


async def test_an_estimate_on_its_way_or_unanswered_never_turns_generate_off(
    page: BrowserPage, stack: Stack
) -> None:
    team = stack.create_team(10_000)
    p = await sign_in(page, stack, team)
    await p.goto(f"{stack.url}/app/#/new/video")
    await p.fill("#prompt", "A slow pan over a mountain lake at dawn")
    await p.get_by_label("Feed").check()
    await expect(provider(p, "KLING_3_0")).to_be_checked()  # moved off the default, saying so
    await provider(p, "RUNWAY_GEN4").check()  # picked by hand: the form keeps it
    await blocked(p)

    # The estimate of the next change is held on its way: the button is on meanwhile.
    release = asyncio.Event()

    async def hold(route: Route, request: Request) -> None:
        if "estimateCost" in (request.post_data or ""):
            await release.wait()
        await route.continue_()

    await p.route("**/graphql", hold)
    await p.get_by_label("Feed").uncheck()
    await p.get_by_label("Story").check()
    await open_(p)
    await expect(p.get_by_test_id("submit-blocked")).to_contain_text("Checking your change")
    release.set()
    await p.get_by_test_id("estimate-total").wait_for()
    await open_(p)
    await p.unroute("**/graphql", hold)

    # No answer at all (the network): no estimate, the button on, the submission decides.
    async def drop(route: Route, request: Request) -> None:
        if "estimateCost" in (request.post_data or ""):
            await route.abort()
        else:
            await route.continue_()

    page.allow_errors("Failed to load resource")
    await p.route("**/graphql", drop)
    await p.get_by_label("Feed").check()
    await expect(p.get_by_test_id("estimate-unavailable")).to_be_visible()
    await open_(p)
    await page.screenshot("estimate-unanswered")
    await p.get_by_test_id("submit").click()
    # The service refuses it (Feed on Runway), in the summary.
    await expect(p.get_by_test_id("error-summary")).to_contain_text("Runway Gen-4 cannot render Feed")


async def test_the_placements_come_from_the_api(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(10_000)
    listed = (await stack.data(team, PLACEMENTS))["placements"]
    p = await sign_in(page, stack, team)
    await p.goto(f"{stack.url}/app/#/new/video")
    labels = p.locator("label.placement")
    await expect(labels).to_have_count(len(listed))
    for at, row in enumerate(listed):
        await expect(labels.nth(at).locator("strong")).to_have_text(row["name"])
        await expect(labels.nth(at).locator("small").first).to_have_text(
            f"{row['aspectRatio']} · {row['targetDurationSeconds']} s"
        )
    assert any("placements {" in q or "placements{" in q for q in operations(page)), operations(page)
    # What the chosen provider makes of them: Veo renders no ratio near 1:1.
    await provider(p, "VEO_3_1").check()
    await expect(p.locator("label.placement", has_text="Feed")).to_contain_text("Not on Veo 3.1")
    await page.screenshot("placements-on-veo", selector="fieldset.placements")


@pytest.mark.parametrize("placements", [["Feed"], ["Reels", "Feed"]], ids=["feed", "reels-and-feed"])
async def test_the_gate_reads_the_refusals_code_and_field_not_its_words(
    page: BrowserPage, stack: Stack, placements: list[str]
) -> None:
    """The estimate's refusal reworded by the server (here: another sentence, the same code and
    extensions.field): the form still names the placement in its own words, with the ways out."""
    team = stack.create_team(10_000)
    p = await sign_in(page, stack, team)
    reworded: list[str] = []

    async def reword(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        if "estimate" not in body.get("query", ""):
            await route.fallback()
            return
        response = await route.fetch()
        answer = await response.json()
        for error in answer.get("errors") or []:
            reworded.append(json.dumps(error.get("extensions")))
            error["message"] = "Diese Platzierung ist mit diesem Anbieter nicht möglich."
        await route.fulfill(response=response, json=answer)

    await p.route("**/graphql", reword)
    await p.goto(f"{stack.url}/app/#/new/video")
    await p.fill("#prompt", "A slow pan over a mountain lake at dawn")
    await expect(provider(p, "RUNWAY_GEN4")).to_be_checked()
    await p.get_by_test_id("estimate-total").wait_for()
    for name in placements:
        await p.get_by_label(name).check()
    await expect(provider(p, "KLING_3_0")).to_be_checked()  # moved off the default, saying so
    await provider(p, "RUNWAY_GEN4").check()  # picked by hand: the form keeps it
    await blocked(p)
    await expect(p.get_by_test_id("estimate-error")).to_have_text(
        "Runway Gen-4 cannot render Feed 1:1 without a start image — choose another "
        "provider or placement, or add a start image."
    )
    await expect(p.get_by_test_id("submit-blocked")).to_contain_text(
        "Luma Ray3, Kling 2.6 and Kling 3.0 render Feed."
    )
    await expect(p.get_by_role("button", name="Choose another provider")).to_be_visible()
    assert reworded, "the estimate was refused"
    await page.screenshot(f"reworded-refusal-{len(placements)}")
