"""The Jobs panel with 1,000 jobs in Chromium: the windowed list against a baseline that renders
every row, in the same run.

The app's own files (web/static/app) are served to Chromium by Playwright's routing under a made-up
origin, and the API is mocked there too: ``POST /graphql`` answers the viewer and pages of 1,000
generated jobs (50 a page, through ``after``, as the panel asks), ``WS /graphql`` acknowledges the
graphql-transport-ws handshake (no events). Nothing else runs: the figures are the page's own.

For each variant — ``windowed`` (the panel as shipped) and ``all rows`` (the same code with
``globalThis.CH_JOBS_RENDER_ALL``, every row in the DOM) — it opens the panel, scrolls until all
1,000 jobs are loaded, goes back to the top, then scrolls to the bottom in steps of ``--step`` px,
one step per animation frame, and reads over that scroll: the main thread's scripting, layout and
style time (Chrome DevTools Protocol ``Performance.getMetrics``), long tasks (> 50 ms, a
``PerformanceObserver``), the frames' intervals, and the number of DOM elements.

    .venv/bin/python -m bench.web_jobs_list [--jobs 1000] [--step 120] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page, Request, Route, WebSocketRoute, async_playwright

from tests.browser import chromium_binary

APP = Path(__file__).resolve().parent.parent / "web" / "static" / "app"
ORIGIN = "http://jobs-bench.test"
VIEWER = {
    "userId": "u-1",
    "teamId": "t-1",
    "teamName": "Bench team",
    "role": "owner",
    "isAdmin": True,
    "scopes": ["read", "generate"],
    "apiKeyId": "k-1",
}
THUMB = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'>"
    "<rect width='64' height='64' fill='%234a7bd1'/></svg>"
)
TYPES = ["IMAGE", "VIDEO", "TTS", "COMPOSITE", "AVATAR"]
STATUSES = ["COMPLETED"] * 6 + ["FAILED", "CANCELED", "PROCESSING", "PENDING"]
CONTENT = {
    "IMAGE": "image/png",
    "VIDEO": "video/mp4",
    "TTS": "audio/mpeg",
    "COMPOSITE": "video/mp4",
    "AVATAR": "video/mp4",
}
KIND = {"IMAGE": "IMAGE", "VIDEO": "VIDEO", "TTS": "AUDIO", "COMPOSITE": "VIDEO", "AVATAR": "VIDEO"}
PROVIDER = {
    "IMAGE": "FLUX_2_PRO",
    "VIDEO": "RUNWAY_GEN4",
    "TTS": "OPENAI_TTS",
    "COMPOSITE": "CREATOMATE",
    "AVATAR": "HEYGEN",
}


def make_jobs(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 30, 12, tzinfo=UTC)
    jobs = []
    for i in range(count):
        kind = TYPES[i % len(TYPES)]
        status = STATUSES[i % len(STATUSES)]
        created = start - timedelta(minutes=i)
        open_ = status in ("PENDING", "PROCESSING")
        output = {
            "id": f"f-{i}",
            "name": f"output-{i}.bin",
            "kind": KIND[kind],
            "contentType": CONTENT[kind],
            "url": f"/files/f-{i}",
            "thumbnailUrl": None if kind == "TTS" else THUMB,
            "width": 1024,
            "height": 1024,
            "durationSeconds": None if kind == "IMAGE" else 5.0,
            "sizeBytes": 123_456,
        }
        jobs.append(
            {
                "id": f"job-{i:05d}",
                "type": kind,
                "status": status,
                "provider": PROVIDER[kind],
                "prompt": f"Campaign concept {i}: a product shot on a linen table, soft morning light",
                "settings": {"settings": {}, "wire_model": "m", "aspect_ratio": "1:1"},
                "metadata": {},
                "errorMessage": "the provider could not complete this job; nothing was charged"
                if status == "FAILED"
                else None,
                "userId": "u-1" if i % 3 else "u-2",
                "version": 3,
                "createdAt": created.isoformat(),
                "startedAt": created.isoformat(),
                "completedAt": None if open_ else (created + timedelta(seconds=20)).isoformat(),
                "updatedAt": created.isoformat(),
                "batchId": f"b-{i // 2}",
                "placement": None,
                "variant": i % 2 + 1,
                "seed": i,
                "rating": "WINNER" if i % 17 == 0 and status == "COMPLETED" else None,
                "clientReference": None,
                "clientMetadata": None,
                "progress": 0.4 if open_ else (1.0 if status == "COMPLETED" else 0.0),
                "queuePosition": 2 if status == "PENDING" else None,
                "expectedCompletionAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat()
                if open_
                else None,
                "costCents": 3 if status == "COMPLETED" else 0,
                "estimatedCostCents": 3,
                "overrunCents": 0,
                "driveFolderId": None,
                "outputs": [output] if status == "COMPLETED" else [],
            }
        )
    return jobs


class Live:
    """The mocked websocket's jobsUpdated subscriptions: push() sends each an event."""

    def __init__(self) -> None:
        self.subs: list[tuple[WebSocketRoute, str]] = []

    def push(self, job: dict[str, Any]) -> None:
        for ws, sid in self.subs:
            ws.send(json.dumps({"id": sid, "type": "next", "payload": {"data": {"jobsUpdated": job}}}))


async def mock(page: Page, jobs: list[dict[str, Any]], live: Live) -> None:
    async def files(route: Route, request: Request) -> None:
        path = request.url.removeprefix(ORIGIN + "/app/").split("?")[0] or "index.html"
        if path == "config.json":
            await route.fulfill(json={"devSignIn": False})
            return
        target = (APP / path).resolve()
        if not target.is_file() or APP not in target.parents:
            await route.fulfill(status=404)
            return
        types = {
            ".js": "text/javascript",
            ".mjs": "text/javascript",
            ".css": "text/css",
            ".html": "text/html",
        }
        await route.fulfill(
            path=str(target), content_type=types.get(target.suffix, "application/octet-stream")
        )

    async def graphql(route: Route, request: Request) -> None:
        body = json.loads(request.post_data or "{}")
        query, variables = body.get("query", ""), body.get("variables") or {}
        if "viewer" in query:
            await route.fulfill(json={"data": {"viewer": VIEWER}})
            return
        if "jobs(" in query:
            offset = int(variables.get("after") or 0)
            page_ = jobs[offset : offset + int(variables.get("first") or 20)]
            end = offset + len(page_)
            info = {"hasNextPage": end < len(jobs), "endCursor": str(end)}
            await route.fulfill(json={"data": {"jobs": {"nodes": page_, "pageInfo": info}}})
            return
        await route.fulfill(json={"data": None, "errors": [{"message": "not mocked"}]})

    def socket(ws: WebSocketRoute) -> None:
        def on_message(message: str | bytes) -> None:
            kind = json.loads(message).get("type")
            if kind == "connection_init":
                ws.send(json.dumps({"type": "connection_ack"}))
            elif kind == "ping":
                ws.send(json.dumps({"type": "pong"}))
            elif kind == "subscribe" and "jobsUpdated" in json.loads(message)["payload"]["query"]:
                live.subs.append((ws, json.loads(message)["id"]))

        ws.on_message(on_message)

    await page.route(ORIGIN + "/app/**", files)
    await page.route(ORIGIN + "/graphql", graphql)
    await page.route_web_socket("ws://jobs-bench.test/graphql", socket)


OBSERVE = """() => {
  window.__long = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e.duration); })
    .observe({ type: "longtask", buffered: false });
}"""

# Scroll to the bottom one step per frame; resolves with each frame's interval (ms).
SCROLL = """(step) => new Promise((resolve) => {
  const frames = [];
  let last = performance.now();
  const tick = (now) => {
    frames.push(now - last);
    last = now;
    const before = window.scrollY;
    window.scrollBy(0, step);
    if (window.scrollY === before) resolve(frames.slice(1));
    else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""


async def run_variant(
    page: Page, jobs: list[dict[str, Any]], live: Live, step: int, render_all: bool
) -> dict[str, float]:
    if render_all:
        await page.add_init_script("globalThis.CH_JOBS_RENDER_ALL = true")
    await page.add_init_script("sessionStorage.setItem('creative-hub.credential', 'bench')")
    await page.goto(ORIGIN + "/app/#/jobs")
    await page.wait_for_selector(".job-row", timeout=30_000)
    # load every page: scroll to the end until the footer counts them all
    for _ in range(200):
        text = await page.locator(".list-foot").inner_text()
        if text.startswith(f"{len(jobs)} jobs."):
            break
        await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        await page.wait_for_timeout(50)
    else:
        raise RuntimeError("not every job loaded")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.wait_for_timeout(300)
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    before = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    await page.evaluate(OBSERVE)
    frames: list[float] = await page.evaluate(SCROLL, step)
    await page.wait_for_timeout(200)  # long-task entries are delivered after the task
    after = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    long_tasks: list[float] = await page.evaluate("window.__long")
    elements = await page.evaluate("document.getElementsByTagName('*').length")

    # live updates: 40 jobsUpdated events (progress of open jobs), 50 ms apart, near the top
    await page.evaluate("window.scrollTo(0, 0)")
    await page.wait_for_timeout(300)
    before_live = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    open_jobs = [j for j in jobs if j["status"] == "PROCESSING"][:40]
    for n, job in enumerate(open_jobs):
        live.push(job | {"version": job["version"] + 1 + n, "progress": 0.5 + n / 100})
        await page.wait_for_timeout(50)
    await page.wait_for_timeout(200)
    after_live = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    live_script = float(after_live["ScriptDuration"] - before_live["ScriptDuration"]) * 1000
    live_task = float(after_live["TaskDuration"] - before_live["TaskDuration"]) * 1000
    rows = await page.locator(".job-row").count()

    def spent(name: str) -> float:
        return float(after[name] - before[name]) * 1000

    frames.sort()
    return {
        "frames": len(frames),
        "script_ms": spent("ScriptDuration"),
        "layout_ms": spent("LayoutDuration"),
        "style_ms": spent("RecalcStyleDuration"),
        "task_ms": spent("TaskDuration"),
        "long_tasks": len(long_tasks),
        "long_task_ms": sum(long_tasks),
        "frame_p50": statistics.median(frames),
        "frame_p95": frames[int(len(frames) * 0.95) - 1],
        "frame_max": frames[-1],
        "rows_in_dom": rows,
        "live_script_ms": live_script / len(open_jobs),
        "live_task_ms": live_task / len(open_jobs),
        "elements": elements,
    }


async def main(args: argparse.Namespace) -> None:
    binary = chromium_binary()
    if binary is None:
        raise SystemExit("no Chromium: apt-get install chromium (or set CH_TEST_CHROMIUM)")
    jobs = make_jobs(args.jobs)
    results: dict[str, list[dict[str, float]]] = {"windowed": [], "all rows": []}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=binary, headless=True, args=["--no-sandbox"]
        )
        for _ in range(args.runs):
            for name in results:
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                page = await context.new_page()
                live = Live()
                await mock(page, jobs, live)
                results[name].append(await run_variant(page, jobs, live, args.step, name == "all rows"))
                await context.close()
        await browser.close()

    keys = [
        ("rows_in_dom", "rows in the DOM", "{:.0f}"),
        ("elements", "DOM elements", "{:.0f}"),
        ("frames", "frames scrolled", "{:.0f}"),
        ("script_ms", "scripting (ms)", "{:.0f}"),
        ("layout_ms", "layout (ms)", "{:.0f}"),
        ("style_ms", "style recalc (ms)", "{:.0f}"),
        ("task_ms", "main-thread tasks (ms)", "{:.0f}"),
        ("long_tasks", "long tasks (> 50 ms)", "{:.0f}"),
        ("long_task_ms", "long tasks, total (ms)", "{:.0f}"),
        ("frame_p50", "frame interval p50 (ms)", "{:.1f}"),
        ("frame_p95", "frame interval p95 (ms)", "{:.1f}"),
        ("frame_max", "frame interval max (ms)", "{:.1f}"),
        ("live_script_ms", "per live event: scripting (ms)", "{:.2f}"),
        ("live_task_ms", "per live event: main thread (ms)", "{:.2f}"),
    ]
    print(
        f"\n{args.jobs} jobs, scrolled top to bottom {args.step} px a frame; median of {args.runs} run(s)\n"
    )
    print(f"| {'measure':<32} | {'windowed':>10} | {'all rows':>10} |")
    print(f"| {'-' * 32} | {'-' * 10}: | {'-' * 10}: |")
    for key, text, fmt in keys:
        values = [fmt.format(statistics.median(r[key] for r in results[name])) for name in results]
        print(f"| {text:<32} | {values[0]:>10} | {values[1]:>10} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--step", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
