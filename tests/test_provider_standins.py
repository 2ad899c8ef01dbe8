"""The twelve adapters against independent stand-ins of the providers' real APIs.

The stand-ins (``tests/standins``) were written from docs/providers.md alone: they check
auth the way each provider does, validate paths and bodies, run the providers' task state machines
and serve real media. The real service (``python main.py dev``, SQLite, real Redis) runs with every
``<FAMILY>_BASE_URL`` pointing at them, jobs go in through GraphQL over HTTP and are followed over
the ``jobUpdated`` subscription; then the outputs in Drive and the requests the providers received
are checked.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import av
import httpx
import jwt
import pytest

from tests.conftest import _redis_for
from tests.media import check_output, decoded_image
from tests.stack import ROOT, Stack, Team, backend_env, follow_job, running
from tests.standins import Hub, Recorded, serve
from tests.test_generation import balance, download, ledger, submit_ok

pytestmark = pytest.mark.timeout(180)  # the happy fixture: the FLUX job, then the jobs made from it

HEYGEN_AVATAR = "Daisy-inskirt-20220818"
HEYGEN_VOICE = "2d5b0e6cf36f460aa7fc47e3eee4ba54"
ELEVEN_VOICE = "21m00Tcm4TlvDq8ikWAM"


# -- the stack ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def standins() -> Iterator[Hub]:
    with serve() as hub:
        yield hub


@pytest.fixture(scope="module")
def svc(standins: Hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One SQLite stack for the module, every provider family pointed at the stand-ins."""
    tmp: Path = tmp_path_factory.mktemp("standins")
    env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", _redis_for("sqlite"))
    env.update(standins.env())  # the variables docs/providers.md documents
    standins.today = date.fromisoformat(env["CH_TODAY"])  # both sides on the stack's pinned day
    with running(env, tmp, simulator=False) as stack:
        yield stack


@pytest.fixture(scope="module")
def rich_team(svc: Stack) -> Team:
    return svc.create_team(200_000)


# -- helpers --------------------------------------------------------------------------------------


def unique(text: str) -> str:
    return f"{text} #{uuid.uuid4().hex[:8]}"


async def run_job(stack: Stack, team: Team, kind: str, input: dict[str, Any]) -> dict[str, Any]:
    """Submit, then follow the job over the subscription to its terminal state; that state."""
    job = await submit_ok(stack, team, kind, input)
    states = await follow_job(stack, team, job["id"], wait_seconds=90)  # a deadline, not a wait
    final = states[-1]
    final["states"] = [s["status"] for s in states]
    return final


async def drive_output(final: dict[str, Any], kind: str) -> tuple[bytes, dict[str, float]]:
    """The job's single output, downloaded from Drive and decoded as ``kind`` media."""
    assert final["status"] == "COMPLETED", final
    assert len(final["resultUrls"]) == 1, final["resultUrls"]
    url = final["resultUrls"][0]
    assert "/files/" in url, url  # our Drive, not the provider's temporary URL
    content_type, data = await download(url)
    assert content_type.startswith(f"{kind}/"), content_type
    return data, check_output(content_type, data)


def only(records: list[Recorded]) -> Recorded:
    assert len(records) == 1, [(r.method, r.path, r.status) for r in records]
    return records[0]


def all_ok(records: list[Recorded]) -> None:
    bad = [
        (r.method, r.path, r.status, r.body[:300]) for r in records if r.status not in (200, 201, 202, 204)
    ]
    assert not bad, bad


def has_audio(data: bytes) -> bool:
    with av.open(io.BytesIO(data)) as container:
        return bool(container.streams.audio)


# -- the happy path: every provider once, all jobs at the same time ---------------------------------


@pytest.fixture(scope="module")
async def happy(svc: Stack, rich_team: Team, standins: Hub) -> dict[str, dict[str, Any]]:
    """Every provider's job, run concurrently; name -> {"input", "final"} (or "error")."""
    stack, team = svc, rich_team
    inputs: dict[str, tuple[str, dict[str, Any]]] = {
        "flux_2_pro": (
            "image",
            {"prompt": unique("a brass lamp on oak"), "provider": "FLUX_2_PRO", "aspectRatio": "16:9"},
        ),
        "gpt_image_1_5": (
            "image",
            {"prompt": unique("a poster that says SALE"), "provider": "GPT_IMAGE_1_5", "aspectRatio": "2:3"},
        ),
        "seedream_4_5": (
            "image",
            {"prompt": unique("a watercolor fox"), "provider": "SEEDREAM_4_5", "aspectRatio": "16:9"},
        ),
        "luma_ray3": (
            "video",
            {
                "prompt": unique("a slow dolly over dunes"),
                "provider": "LUMA_RAY3",
                "aspectRatio": "9:16",
                "durationSeconds": 5,
            },
        ),
        "runway_gen4_t2v": (
            "video",
            {
                "prompt": unique("waves at dusk"),
                "provider": "RUNWAY_GEN4",
                "aspectRatio": "16:9",
                "durationSeconds": 4,
            },
        ),
        "kling_2_6": (
            "video",
            {
                "prompt": unique("a ball bouncing down stairs"),
                "provider": "KLING_2_6",
                "aspectRatio": "1:1",
                "durationSeconds": 10,
            },
        ),
        "kling_3_0": (
            "video",
            {
                "prompt": unique("a glass of water tipping over"),
                "provider": "KLING_3_0",
                "aspectRatio": "9:16",
                "durationSeconds": 7,
            },
        ),
        "veo_3_1": (
            "video",
            {
                "prompt": unique("a chef plating pasta"),
                "provider": "VEO_3_1",
                "aspectRatio": "9:16",
                "durationSeconds": 6,
            },
        ),
        "heygen": (
            "avatar",
            {
                "script": unique("Hello there, welcome to our spring collection!"),
                "avatarId": HEYGEN_AVATAR,
                "voiceId": HEYGEN_VOICE,
                "aspectRatio": "9:16",
            },
        ),
        "elevenlabs": (
            "tts",
            {
                "text": unique("Thanks for calling, your order ships tomorrow."),
                "provider": "ELEVENLABS",
                "voiceId": ELEVEN_VOICE,
            },
        ),
        "openai_tts": (
            "tts",
            {
                "text": unique("Your table is ready, please come in."),
                "provider": "OPENAI_TTS",
                "voiceId": "nova",
            },
        ),
    }
    results: dict[str, dict[str, Any]] = {}

    async def one(name: str, kind: str, input: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"input": input, "kind": kind}
        results[name] = entry
        try:
            entry["final"] = await run_job(stack, team, kind, input)
        except Exception as exc:  # reported by the test of that provider
            entry["error"] = repr(exc)
        return entry

    async def chained() -> None:
        """Runway image-to-video and the Creatomate composite take the FLUX image from Drive."""
        flux = await one("flux_2_pro", *inputs["flux_2_pro"])
        final = flux.get("final") or {}
        if final.get("status") != "COMPLETED":
            for name in ("runway_gen4_i2v", "creatomate", "luma_ray3_i2v", "kling_3_0_i2v", "veo_3_1_i2v"):
                results[name] = {"error": f"the FLUX job it needs did not complete: {flux}"}
            return
        file_id = final["resultUrls"][0].split("/files/")[1].split("?")[0]
        i2v = {
            "prompt": unique("the lamp turns on"),
            "provider": "RUNWAY_GEN4",
            "imageFileId": file_id,
            "aspectRatio": "1:1",
            "durationSeconds": 5,
        }
        source = {
            "output_format": "mp4",
            "width": 640,
            "height": 360,
            "frame_rate": 25,
            "elements": [
                {"name": "Photo", "type": "image", "track": 1, "duration": 1.5},
                {
                    "name": "Title",
                    "type": "text",
                    "text": "placeholder",
                    "track": 2,
                    "time": 0,
                    "duration": 1.5,
                },
            ],
        }
        composite = {
            "source": source,
            "modifications": {"Title": unique("Spring sale")},
            "inputs": [{"name": "Photo", "jobId": final["id"]}],
        }
        more_i2v = {
            name: {
                "prompt": unique(f"the lamp flickers ({name})"),
                "provider": provider,
                "imageFileId": file_id,
                "durationSeconds": seconds,
            }
            for name, provider, seconds in (
                ("luma_ray3_i2v", "LUMA_RAY3", 5),
                ("kling_3_0_i2v", "KLING_3_0", 5),
                ("veo_3_1_i2v", "VEO_3_1", 8),
            )
        }
        await asyncio.gather(
            one("runway_gen4_i2v", "video", i2v),
            one("creatomate", "composite", composite),
            *(one(name, "video", body) for name, body in more_i2v.items()),
        )
        for name in ("runway_gen4_i2v", *more_i2v):
            results[name]["flux_file"] = final["resultUrls"][0]
        results["creatomate"]["flux_job"] = final["id"]

    await asyncio.gather(chained(), *(one(n, *inputs[n]) for n in inputs if n != "flux_2_pro"))
    if os.environ.get("STANDINS_DEBUG"):
        for name, entry in results.items():
            final = entry.get("final") or {}
            print(name, final.get("status"), final.get("errorMessage"), entry.get("error"))
        for r in standins.records:
            if r.method == "POST":
                hdr = {
                    k: v[:40]
                    for k, v in r.headers.items()
                    if k not in ("host", "accept-encoding", "connection", "content-length")
                }
                print("SUBMIT", r.family, r.path, r.status, hdr, r.query, r.body[:700])
            if r.status and r.status >= 400:
                print("REJECTED", r.family, r.method, r.path, r.status, r.body[:400])
    return results


def completed(happy: dict[str, dict[str, Any]], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    entry = happy[name]
    assert "error" not in entry, entry["error"]
    final = entry["final"]
    assert final["status"] == "COMPLETED", (final["status"], final["errorMessage"])
    assert final["states"][0] in ("PENDING", "PROCESSING") and "PROCESSING" in final["states"], final[
        "states"
    ]
    assert final["costCents"] > 0 and final["errorMessage"] in (None, "")
    return entry["input"], final


async def test_flux_2_pro(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "flux_2_pro")
    _, facts = await drive_output(final, "image")
    sub = only(standins.submits_with("bfl", input["prompt"]))
    assert (sub.method, sub.prefix, sub.path) == ("POST", "bfl", "/v1/flux-2-pro")
    assert sub.headers["x-key"] == standins.keys["bfl"] and "authorization" not in sub.headers
    body = sub.json
    assert body["prompt"] == input["prompt"] and "aspect_ratio" not in body
    w, h = body["width"], body["height"]
    assert w % 16 == 0 and h % 16 == 0 and w / h == pytest.approx(16 / 9, rel=0.03)
    assert (facts["width"], facts["height"]) == (w, h)  # what the provider rendered is what Drive holds
    task = standins.task_for(input["prompt"])
    polls = standins.mentioning("bfl", task.id)
    assert len(polls) >= 2 and all(p.prefix == "bfl-eu2" for p in polls)  # polling_url used verbatim
    assert all(
        p.method == "GET" and p.path == "/v1/get_result" and p.headers["x-key"] == standins.keys["bfl"]
        for p in polls
    )
    all_ok([sub, *polls])


async def test_gpt_image_1_5(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "gpt_image_1_5")
    _, facts = await drive_output(final, "image")
    sub = only(standins.submits_with("openai", input["prompt"]))
    assert (sub.method, sub.path) == ("POST", "/v1/images/generations")
    assert sub.headers["authorization"] == f"Bearer {standins.keys['openai']}"
    body = sub.json
    assert body["model"] == "gpt-image-1.5" and body["prompt"] == input["prompt"]
    assert body["size"] == "1024x1536" and "response_format" not in body
    assert (facts["width"], facts["height"]) == (1024, 1536)
    all_ok([sub])


async def test_seedream_4_5(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "seedream_4_5")
    _, facts = await drive_output(final, "image")
    sub = only(standins.submits_with("ark", input["prompt"]))
    assert (sub.method, sub.path) == ("POST", "/api/v3/images/generations")
    assert sub.headers["authorization"] == f"Bearer {standins.keys['ark']}"
    body = sub.json
    assert body["model"] == "seedream-4-5-251128" and body["prompt"] == input["prompt"]
    w, h = (int(x) for x in body["size"].split("x"))
    assert w / h == pytest.approx(16 / 9, rel=0.03) and 3_686_400 <= w * h <= 16_777_216
    assert (facts["width"], facts["height"]) == (w, h)
    all_ok([sub])


async def test_luma_ray3(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "luma_ray3")
    _, facts = await drive_output(final, "video")
    sub = only(standins.submits_with("luma", input["prompt"]))
    assert (sub.method, sub.path) == ("POST", "/v1/generations") and sub.status == 201
    assert sub.headers["authorization"] == f"Bearer {standins.keys['luma']}"
    body = sub.json
    assert (body["model"], body["type"], body["prompt"]) == ("ray-3.2", "video", input["prompt"])
    assert body["aspect_ratio"] == "9:16" and body["video"]["duration"] == "5s"
    assert facts["height"] > facts["width"] and facts["duration"] == pytest.approx(5, abs=0.3)
    polls = standins.mentioning("luma", standins.task_for(input["prompt"]).id)
    assert len(polls) >= 2 and all(p.method == "GET" and p.path.startswith("/v1/generations/") for p in polls)
    all_ok([sub, *polls])


def _runway_common(sub: Recorded, hub: Hub) -> None:
    assert sub.headers["authorization"] == f"Bearer {hub.keys['runway']}"
    assert sub.headers["x-runway-version"] == "2024-11-06"


async def test_runway_gen4_text_to_video(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "runway_gen4_t2v")
    _, facts = await drive_output(final, "video")
    sub = only(standins.submits_with("runway", input["prompt"]))
    assert (sub.method, sub.path) == ("POST", "/v1/text_to_video")
    _runway_common(sub, standins)
    body = sub.json
    assert (body["model"], body["promptText"], body["ratio"], body["duration"]) == (
        "gen4.5",
        input["prompt"],
        "1280:720",
        4,
    )
    assert facts["width"] > facts["height"] and facts["duration"] == pytest.approx(4, abs=0.3)
    polls = standins.mentioning("runway", standins.task_for(input["prompt"]).id)
    assert len(polls) >= 2 and all(p.method == "GET" and p.path.startswith("/v1/tasks/") for p in polls)
    for poll in polls:
        _runway_common(poll, standins)
    all_ok([sub, *polls])


async def test_runway_gen4_image_to_video(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "runway_gen4_i2v")
    _, facts = await drive_output(final, "video")
    sub = only(standins.submits_with("runway", input["prompt"]))
    assert (sub.method, sub.path) == ("POST", "/v1/image_to_video")
    _runway_common(sub, standins)
    body = sub.json
    assert (body["model"], body["promptText"], body["ratio"], body["duration"]) == (
        "gen4_turbo",
        input["prompt"],
        "960:960",
        5,
    )
    # the first frame is the Drive image the job named
    sent = standins.task_for(input["prompt"]).params["image"]
    if sent is not None:  # a data: URI
        await _is_drive_image(sent, happy["runway_gen4_i2v"])
    else:  # an https URL the provider fetches
        assert str(body["promptImage"]).startswith("https://")
    assert facts["width"] == facts["height"] and facts["duration"] == pytest.approx(5, abs=0.3)
    all_ok([sub, *standins.mentioning("runway", standins.task_for(input["prompt"]).id)])


async def _is_drive_image(sent: bytes, happy_entry: dict[str, Any]) -> None:
    """The first frame a provider received is the Drive image the job named."""
    _, drive_image = await download(happy_entry["flux_file"])
    assert decoded_image(sent) == decoded_image(drive_image)


async def test_luma_ray3_image_to_video(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "luma_ray3_i2v")
    await drive_output(final, "video")
    sub = only(standins.submits_with("luma", input["prompt"]))
    body = sub.json
    assert (body["model"], body["type"]) == ("ray-3.2", "video")
    frame = body["video"]["start_frame"]
    if "data" in frame:  # ImageRef: base64 + media_type (or a public URL)
        assert frame["media_type"].startswith("image/")
        await _is_drive_image(base64.b64decode(frame["data"]), happy["luma_ray3_i2v"])
    else:
        assert str(frame["url"]).startswith("https://")
    all_ok([sub, *standins.mentioning("luma", standins.task_for(input["prompt"]).id)])


async def test_kling_3_0_image_to_video(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "kling_3_0_i2v")
    _, facts = await drive_output(final, "video")
    sub = only(standins.submits_with("kling", input["prompt"]))
    assert (sub.method, sub.path) == ("POST", "/v1/videos/image2video")
    body = sub.json
    assert (body["model_name"], body["duration"]) == ("kling-v3", "5") and "aspect_ratio" not in body
    # Kling takes a URL or raw base64 (no data: prefix); the adapter sends the image's bytes.
    await _is_drive_image(base64.b64decode(body["image"], validate=True), happy["kling_3_0_i2v"])
    task = standins.task_for(input["prompt"])
    polls = standins.mentioning("kling", task.id)
    assert len(polls) >= 2 and all(p.path == f"/v1/videos/image2video/{task.id}" for p in polls)
    assert facts["duration"] == pytest.approx(5, abs=0.3)
    all_ok([sub, *polls])


async def test_veo_3_1_image_to_video(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "veo_3_1_i2v")
    _, facts = await drive_output(final, "video")
    sub = only(standins.submits_with("gemini", input["prompt"]))
    instances = sub.json["instances"]
    assert len(instances) == 1
    instance = instances[0]
    assert instance["prompt"] == input["prompt"] and instance["image"]["mimeType"].startswith("image/")
    await _is_drive_image(base64.b64decode(instance["image"]["bytesBase64Encoded"]), happy["veo_3_1_i2v"])
    assert sub.json["parameters"]["durationSeconds"] == 8
    assert facts["duration"] == pytest.approx(8, abs=0.3)
    all_ok([sub])


def _kling_checks(hub: Hub, input: dict[str, Any], model: str) -> Recorded:
    sub = only(hub.submits_with("kling", input["prompt"]))
    assert (sub.method, sub.path) == ("POST", "/v1/videos/text2video")
    scheme, token = sub.headers["authorization"].split(" ")
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, hub.kling_secret_key, algorithms=["HS256"], issuer=hub.kling_access_key)
    assert claims["nbf"] <= time.time() < claims["exp"]
    body = sub.json
    assert (body["model_name"], body["prompt"]) == (model, input["prompt"])
    assert body["duration"] == str(input["durationSeconds"]) and body["aspect_ratio"] == input["aspectRatio"]
    task = hub.task_for(input["prompt"])
    polls = hub.mentioning("kling", task.id)
    assert len(polls) >= 2 and all(p.path == f"/v1/videos/text2video/{task.id}" for p in polls)
    all_ok([sub, *polls])
    return sub


async def test_kling_2_6(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "kling_2_6")
    _, facts = await drive_output(final, "video")
    _kling_checks(standins, input, "kling-v2-6")
    assert facts["width"] == facts["height"] and facts["duration"] == pytest.approx(10, abs=0.3)


async def test_kling_3_0(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "kling_3_0")
    _, facts = await drive_output(final, "video")
    _kling_checks(standins, input, "kling-v3")
    assert facts["height"] > facts["width"] and facts["duration"] == pytest.approx(7, abs=0.3)


async def test_veo_3_1(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "veo_3_1")
    data, facts = await drive_output(final, "video")
    sub = only(standins.submits_with("gemini", input["prompt"]))
    assert (sub.method, sub.path) == ("POST", "/v1beta/models/veo-3.1-generate-001:predictLongRunning")
    key = standins.keys["gemini"]
    assert sub.headers.get("x-goog-api-key") == key or sub.query.get("key") == key
    body = sub.json
    assert body["instances"] == [{"prompt": input["prompt"]}]
    assert body["parameters"]["aspectRatio"] == "9:16" and body["parameters"]["durationSeconds"] == 6
    assert facts["height"] > facts["width"] and facts["duration"] == pytest.approx(6, abs=0.3)
    assert has_audio(data)  # Veo 3.x always produces sound; the copy keeps it
    task = standins.task_for(input["prompt"])
    polls = [r for r in standins.requests("gemini", "GET") if r.path == f"/v1beta/{task.id}"]
    assert len(polls) >= 2
    downloads = [r for r in standins.requests("gemini", "GET") if r.path.startswith("/v1beta/files/")]
    file_id = task.output_urls[0].split("/files/")[1].split(":")[0]
    fetched = [r for r in downloads if file_id in r.path]
    assert fetched and all(
        r.headers.get("x-goog-api-key") == key or r.query.get("key") == key for r in fetched
    )
    all_ok([sub, *polls, *fetched])


async def test_heygen(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "heygen")
    _, facts = await drive_output(final, "video")
    sub = only(standins.submits_with("heygen", input["script"]))
    assert (sub.method, sub.path) == ("POST", "/v3/videos")
    assert sub.headers["x-api-key"] == standins.keys["heygen"]
    assert sub.json == sub.json | {
        "type": "avatar",
        "avatar_id": HEYGEN_AVATAR,
        "voice_id": HEYGEN_VOICE,
        "script": input["script"],
        "aspect_ratio": "9:16",
    }
    assert facts["height"] > facts["width"]
    task = standins.task_for(input["script"])
    polls = standins.mentioning("heygen", task.id)
    assert len(polls) >= 2 and all(p.method == "GET" and p.path == f"/v3/videos/{task.id}" for p in polls)
    all_ok([sub, *polls])


async def test_elevenlabs(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "elevenlabs")
    _, facts = await drive_output(final, "audio")
    sub = only(standins.submits_with("elevenlabs", input["text"]))
    assert (sub.method, sub.path) == ("POST", f"/v1/text-to-speech/{ELEVEN_VOICE}")
    assert sub.headers["xi-api-key"] == standins.keys["elevenlabs"] and "authorization" not in sub.headers
    assert sub.json["text"] == input["text"]
    assert facts["duration"] > 0.4
    all_ok([sub])


async def test_openai_tts(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "openai_tts")
    _, facts = await drive_output(final, "audio")
    sub = only(standins.submits_with("openai", input["text"]))
    assert (sub.method, sub.path) == ("POST", "/v1/audio/speech")
    assert sub.headers["authorization"] == f"Bearer {standins.keys['openai']}"
    body = sub.json
    assert body["input"] == input["text"] and body["voice"] == "nova"
    assert body["model"] in ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
    assert facts["duration"] > 0.4
    all_ok([sub])


async def test_creatomate(happy: dict[str, dict[str, Any]], standins: Hub) -> None:
    input, final = completed(happy, "creatomate")
    _, facts = await drive_output(final, "video")
    title = input["modifications"]["Title"]
    sub = only(standins.submits_with("creatomate", title))
    assert (sub.method, sub.path) == ("POST", "/v1/renders") and sub.status == 202
    assert sub.headers["authorization"] == f"Bearer {standins.keys['creatomate']}"
    body = sub.json
    assert body["source"]["elements"][0]["type"] == "image" and body["modifications"]["Title"] == title
    # the Drive input reached the render: the stand-in downloaded it like Creatomate downloads sources
    task = next(t for t in standins.tasks.values() if t.family == "creatomate" and title in t.text)
    fetched = task.extra.get("fetched")
    assert fetched and any(f["content_type"].startswith("image/") for f in fetched), task.extra
    assert facts["width"] / facts["height"] == pytest.approx(16 / 9, rel=0.05)
    assert facts["duration"] == pytest.approx(1.5, abs=0.3)
    all_ok([sub, *standins.mentioning("creatomate", task.id)])


# -- failures on demand ---------------------------------------------------------------------------

RETRY_CASES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    # name: (family, marker, kind, input without its text)
    "flux_429": ("bfl", "[standin:429]", "image", {"provider": "FLUX_2_PRO"}),
    "gpt_image_429": ("openai", "[standin:429]", "image", {"provider": "GPT_IMAGE_1_5"}),
    "runway_429": ("runway", "[standin:429]", "video", {"provider": "RUNWAY_GEN4", "durationSeconds": 3}),
    "heygen_429": ("heygen", "[standin:429]", "avatar", {"avatarId": HEYGEN_AVATAR, "voiceId": HEYGEN_VOICE}),
    "elevenlabs_429": (
        "elevenlabs",
        "[standin:429]",
        "tts",
        {"provider": "ELEVENLABS", "voiceId": ELEVEN_VOICE},
    ),
    "seedream_500": ("ark", "[standin:500]", "image", {"provider": "SEEDREAM_4_5"}),
    "kling_500": ("kling", "[standin:500]", "video", {"provider": "KLING_2_6", "durationSeconds": 5}),
    "veo_500": ("gemini", "[standin:500]", "video", {"provider": "VEO_3_1", "durationSeconds": 4}),
    "openai_tts_500": ("openai", "[standin:500]", "tts", {"provider": "OPENAI_TTS"}),
    "luma_poll500": ("luma", "[standin:poll500]", "video", {"provider": "LUMA_RAY3", "durationSeconds": 5}),
    "runway_poll500": (
        "runway",
        "[standin:poll500]",
        "video",
        {"provider": "RUNWAY_GEN4", "durationSeconds": 2},
    ),
}

MODERATION_CASES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "flux": ("bfl", "[standin:moderate]", "image", {"provider": "FLUX_2_PRO"}),
    "gpt_image": ("openai", "[standin:moderate]", "image", {"provider": "GPT_IMAGE_1_5"}),
    "seedream": ("ark", "[standin:moderate]", "image", {"provider": "SEEDREAM_4_5"}),
    "luma": ("luma", "[standin:moderate]", "video", {"provider": "LUMA_RAY3", "durationSeconds": 5}),
    "runway": ("runway", "[standin:moderate]", "video", {"provider": "RUNWAY_GEN4", "durationSeconds": 5}),
    "kling_poll": ("kling", "[standin:moderate]", "video", {"provider": "KLING_3_0", "durationSeconds": 5}),
    "kling_sync": (
        "kling",
        "[standin:moderate-sync]",
        "video",
        {"provider": "KLING_2_6", "durationSeconds": 5},
    ),
    "veo": ("gemini", "[standin:moderate]", "video", {"provider": "VEO_3_1", "durationSeconds": 8}),
    "heygen": (
        "heygen",
        "[standin:moderate]",
        "avatar",
        {"avatarId": HEYGEN_AVATAR, "voiceId": HEYGEN_VOICE},
    ),
}

TEXT_FIELD = {"image": "prompt", "video": "prompt", "avatar": "script", "tts": "text"}


def with_text(kind: str, marker: str, input: dict[str, Any]) -> dict[str, Any]:
    return {**input, TEXT_FIELD[kind]: unique(f"a quiet harbour at dawn {marker}")}


async def test_throttled_and_failing_providers_are_retried_then_complete(
    svc: Stack, rich_team: Team, standins: Hub
) -> None:
    cases = {
        name: (family, marker, kind, with_text(kind, marker, inp))
        for name, (family, marker, kind, inp) in RETRY_CASES.items()
    }
    finals = await asyncio.gather(*(run_job(svc, rich_team, kind, inp) for _, _, kind, inp in cases.values()))
    problems = []
    for (name, (family, marker, kind, inp)), final in zip(cases.items(), finals, strict=True):
        text = inp[TEXT_FIELD[kind]]
        if final["status"] != "COMPLETED":
            problems.append((name, final["status"], final["errorMessage"]))
            continue
        await drive_output(
            final, {"image": "image", "video": "video", "avatar": "video", "tts": "audio"}[kind]
        )
        assert final["metadata"].get("retries") == 1, (name, final["metadata"])
        submits = standins.submits_with(family, text)
        if marker == "[standin:poll500]":
            only(submits)
            polls = standins.mentioning(family, standins.task_for(text).id)
            assert polls[0].status is not None and polls[0].status >= 500, (name, polls[0])
            assert [p.status for p in polls[1:]] and all(p.status == 200 for p in polls[1:]), name
        else:
            statuses = [s.status for s in submits]
            expected_first = 429 if marker == "[standin:429]" else None
            assert len(submits) == 2 and statuses[1] in (200, 201, 202), (name, statuses)
            assert statuses[0] == expected_first if expected_first else statuses[0] >= 500, (name, statuses)
            assert submits[0].json == submits[1].json, name  # the same request, sent again
    assert not problems, problems


async def test_moderation_fails_the_job_free_with_a_readable_message(svc: Stack, standins: Hub) -> None:
    team = svc.create_team(20_000)
    before = await balance(svc, team)
    assert before == {"balanceCents": 20_000, "availableCents": 20_000, "heldCents": 0}
    cases = {
        name: (family, marker, kind, with_text(kind, marker, inp))
        for name, (family, marker, kind, inp) in MODERATION_CASES.items()
    }
    finals = await asyncio.gather(*(run_job(svc, team, kind, inp) for _, _, kind, inp in cases.values()))
    rows = await ledger(svc, team)
    problems = []
    for (name, (family, _marker, kind, inp)), final in zip(cases.items(), finals, strict=True):
        message = final["errorMessage"] or ""
        if os.environ.get("STANDINS_DEBUG"):
            print("MODERATED", name, final["status"], repr(message))
        if final["status"] != "FAILED" or final["costCents"] != 0 or final["resultUrls"]:
            problems.append((name, final["status"], final["costCents"], message))
            continue
        # a human sentence, not a raw provider body or a traceback
        if len(message) < 15 or message.lstrip().startswith(("{", "[")) or "Traceback" in message:
            problems.append((name, "message", message))
        # moderation is final: submitted once, never retried
        if len(standins.submits_with(family, inp[TEXT_FIELD[kind]])) != 1 or final["metadata"].get("retries"):
            problems.append((name, "retried", final["metadata"]))
        kinds = {r["kind"]: r["amountCents"] for r in rows if r["jobId"] == final["id"]}
        if set(kinds) != {"HOLD", "RELEASE"} or kinds["HOLD"] != kinds["RELEASE"]:
            problems.append((name, "ledger", kinds))
    assert not problems, problems
    assert await balance(svc, team) == before


async def test_final_provider_failures_end_the_job_at_once(svc: Stack, standins: Hub) -> None:
    """A FAILED Runway task is final whatever its code (INTERNAL.BAD_OUTPUT was polled eight more
    times), INPUT_PREPROCESSING.SAFETY.TEXT is moderation, and BFL's Error ends the job; free."""
    team = svc.create_team(20_000)
    cases = {
        "runway_bad_output": ("[standin:fail]", "video", {"provider": "RUNWAY_GEN4", "durationSeconds": 5}),
        "runway_safety_text": (
            "[standin:moderate]",
            "video",
            {"provider": "RUNWAY_GEN4", "durationSeconds": 5},
        ),
        "bfl_error": ("[standin:fail]", "image", {"provider": "FLUX_2_PRO"}),
    }
    inputs = {name: (kind, with_text(kind, marker, inp)) for name, (marker, kind, inp) in cases.items()}
    finals = dict(
        zip(
            inputs, await asyncio.gather(*(run_job(svc, team, k, i) for k, i in inputs.values())), strict=True
        )
    )
    for name, final in finals.items():
        assert (final["status"], final["costCents"], final["metadata"].get("retries")) == (
            "FAILED",
            0,
            None,
        ), (
            name,
            final,
        )
        # Polled until it reported the failure, never after (moderation is reported at once; the
        # others on the second poll, after one "running").
        expected = 1 if name == "runway_safety_text" else 2
        assert standins.task_for(inputs[name][1]["prompt"]).polls == expected, name
    assert "moderation" in finals["runway_safety_text"]["errorMessage"]
    assert "moderation" not in finals["runway_bad_output"]["errorMessage"]
    assert await balance(svc, team) == {"balanceCents": 20_000, "availableCents": 20_000, "heldCents": 0}


async def test_standins_refuse_the_rules_of_issue_11(standins: Hub) -> None:
    """Kling sound needs v2.6 pro, Ray 3.2 renders 10 s from text only, Seedream 4.5 has no 1K,
    FLUX.2 sides are multiples of 16."""
    e = standins.env()
    now = int(time.time())
    kling = {
        "Authorization": "Bearer "
        + jwt.encode(
            {"iss": standins.kling_access_key, "exp": now + 600, "nbf": now - 5},
            standins.kling_secret_key,
            "HS256",
        )
    }
    frame = {"url": "https://example.com/a.png"}
    cases: list[tuple[str, dict[str, str], Any, int]] = [
        (
            f"{e['KLING_BASE_URL']}/videos/text2video",
            kling,
            {"model_name": "kling-v2-6", "prompt": "x", "duration": "5", "mode": "std", "sound": "on"},
            400,
        ),
        (
            f"{e['LUMA_BASE_URL']}/generations",
            {"Authorization": f"Bearer {standins.keys['luma']}"},
            {
                "model": "ray-3.2",
                "type": "video",
                "prompt": "x",
                "video": {"duration": "10s", "start_frame": frame},
            },
            422,
        ),
        (
            f"{e['ARK_BASE_URL']}/images/generations",
            {"Authorization": f"Bearer {standins.keys['ark']}"},
            {"model": "seedream-4-5-251128", "prompt": "x", "size": "1K"},
            400,
        ),
        (
            f"{e['BFL_BASE_URL']}/v1/flux-2-pro",
            {"x-key": standins.keys["bfl"]},
            {"prompt": "x", "width": 1000, "height": 1024},
            422,
        ),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for url, headers, body, status in cases:
            r = await client.post(url, headers=headers, json=body)
            assert r.status_code == status, (url, r.status_code, r.text)


# -- the stand-ins themselves refuse what the real APIs refuse --------------------------------------


async def test_standins_refuse_bad_credentials_like_the_providers(standins: Hub) -> None:
    e = standins.env()
    now = int(time.time())
    expired = jwt.encode(
        {"iss": standins.kling_access_key, "exp": now - 10, "nbf": now - 100},
        standins.kling_secret_key,
        "HS256",
    )
    wrong_secret = jwt.encode(
        {"iss": standins.kling_access_key, "exp": now + 600, "nbf": now - 5}, "not-the-secret-" * 3, "HS256"
    )
    checks: list[tuple[str, str, dict[str, str], Any, int]] = [
        (
            f"{e['BFL_BASE_URL']}/v1/flux-2-pro",
            "POST",
            {"Authorization": f"Bearer {e['BFL_API_KEY']}"},
            {"prompt": "x"},
            403,
        ),
        (f"{e['OPENAI_BASE_URL']}/images/generations", "POST", {"Authorization": "Bearer sk-wrong"}, {}, 401),
        (f"{e['ARK_BASE_URL']}/images/generations", "POST", {}, {}, 401),
        (f"{e['LUMA_BASE_URL']}/generations", "POST", {"x-api-key": e["LUMA_API_KEY"]}, {}, 401),
        (
            f"{e['RUNWAY_BASE_URL']}/text_to_video",
            "POST",
            {"Authorization": f"Bearer {e['RUNWAY_API_KEY']}"},
            {},
            400,
        ),
        (f"{e['KLING_BASE_URL']}/videos/text2video", "POST", {"Authorization": f"Bearer {expired}"}, {}, 401),
        (
            f"{e['KLING_BASE_URL']}/videos/text2video",
            "POST",
            {"Authorization": f"Bearer {wrong_secret}"},
            {},
            401,
        ),
        (
            f"{e['GEMINI_BASE_URL']}/models/veo-3.1-generate-001:predictLongRunning",
            "POST",
            {"Authorization": f"Bearer {e['GEMINI_API_KEY']}"},
            {},
            403,
        ),
        (
            f"{e['HEYGEN_BASE_URL']}/v3/videos",
            "POST",
            {"Authorization": f"Bearer {e['HEYGEN_API_KEY']}"},
            {},
            401,
        ),
        (
            f"{e['ELEVENLABS_BASE_URL']}/v1/text-to-speech/{ELEVEN_VOICE}",
            "POST",
            {"Authorization": f"Bearer {e['ELEVENLABS_API_KEY']}"},
            {},
            401,
        ),
        (f"{e['CREATOMATE_BASE_URL']}/renders", "POST", {"x-api-key": e["CREATOMATE_API_KEY"]}, {}, 401),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for url, method, headers, body, status in checks:
            r = await client.request(method, url, headers=headers, json=body)
            assert r.status_code == status, (url, r.status_code, r.text)
        kling = await client.post(
            f"{e['KLING_BASE_URL']}/videos/text2video",
            headers={"Authorization": f"Bearer {expired}"},
            json={},
        )
        assert kling.json()["code"] == 1004
        veo_bad = await client.get(f"{e['GEMINI_BASE_URL']}/files/x:download?alt=media")
        assert veo_bad.json()["error"]["status"] == "PERMISSION_DENIED"


def test_documented_provider_variables_are_read(standins: Hub) -> None:
    """The service reads each family's key and base URL by the names docs/providers.md gives them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CH_")} | standins.env()
    probe = (
        "import json; from services.settings import load_settings; from providers.registry import endpoint; "
        "s = load_settings(); print(json.dumps({p: endpoint(p, s).base_url for p in "
        "('flux_2_pro', 'kling_3_0', 'veo_3_1')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout) == {
        "flux_2_pro": f"{standins.base}/bfl",
        "kling_3_0": f"{standins.base}/kling/v1",
        "veo_3_1": f"{standins.base}/gemini/v1beta",
    }


async def test_standins_refuse_bodies_the_providers_refuse(standins: Hub) -> None:
    """The stand-ins are strict where docs/providers.md is: a wrong field or value gets the documented error."""
    e = standins.env()
    now = int(time.time())
    kling_jwt = jwt.encode(
        {"iss": standins.kling_access_key, "exp": now + 600, "nbf": now - 5},
        standins.kling_secret_key,
        "HS256",
    )
    bearer = {
        f: {"Authorization": f"Bearer {standins.keys[f]}"} for f in ("openai", "ark", "luma", "creatomate")
    }
    runway = {"Authorization": f"Bearer {standins.keys['runway']}", "X-Runway-Version": "2024-11-06"}
    cases: list[tuple[str, dict[str, str], Any, int, Callable[[Any], bool]]] = [
        (  # FLUX.2 [pro] has width/height, no aspect_ratio
            f"{e['BFL_BASE_URL']}/v1/flux-2-pro",
            {"x-key": standins.keys["bfl"]},
            {"prompt": "x", "aspect_ratio": "16:9"},
            422,
            lambda b: b["detail"][0]["loc"] == ["body", "aspect_ratio"],
        ),
        (  # GPT image models always answer base64
            f"{e['OPENAI_BASE_URL']}/images/generations",
            bearer["openai"],
            {"model": "gpt-image-1.5", "prompt": "x", "response_format": "url"},
            400,
            lambda b: b["error"]["code"] == "unknown_parameter",
        ),
        (  # 1024x1024 is below Seedream 4.5's pixel floor
            f"{e['ARK_BASE_URL']}/images/generations",
            bearer["ark"],
            {"model": "seedream-4-5-251128", "prompt": "x", "size": "1024x1024"},
            400,
            lambda b: b["error"]["code"] == "InvalidParameter",
        ),
        (  # durations are "5s" | "10s"
            f"{e['LUMA_BASE_URL']}/generations",
            bearer["luma"],
            {"model": "ray-3.2", "type": "video", "prompt": "x", "video": {"duration": "9s"}},
            400,
            lambda b: "duration" in b["detail"],
        ),
        (  # gen4.5 text-to-video has two ratios only
            f"{e['RUNWAY_BASE_URL']}/text_to_video",
            runway,
            {"model": "gen4.5", "promptText": "x", "ratio": "960:960", "duration": 5},
            400,
            lambda b: "ratio" in b["error"],
        ),
        (  # gen4_turbo needs an image
            f"{e['RUNWAY_BASE_URL']}/text_to_video",
            runway,
            {"model": "gen4_turbo", "promptText": "x", "ratio": "1280:720", "duration": 5},
            400,
            lambda b: "promptImage" in b["error"],
        ),
        (  # duration is a string
            f"{e['KLING_BASE_URL']}/videos/text2video",
            {"Authorization": f"Bearer {kling_jwt}"},
            {"model_name": "kling-v3", "prompt": "x", "duration": 5},
            400,
            lambda b: b["code"] == 1201,
        ),
        (  # generateAudio is a Vertex-only knob
            f"{e['GEMINI_BASE_URL']}/models/veo-3.1-generate-001:predictLongRunning",
            {"x-goog-api-key": standins.keys["gemini"]},
            {"instances": [{"prompt": "x"}], "parameters": {"generateAudio": True}},
            400,
            lambda b: b["error"]["status"] == "INVALID_ARGUMENT",
        ),
        (  # resolution is 720p, 1080p or 4k
            f"{e['HEYGEN_BASE_URL']}/v3/videos",
            {"X-Api-Key": standins.keys["heygen"]},
            {"type": "avatar", "avatar_id": "a", "voice_id": "v", "script": "hi", "resolution": "8k"},
            400,
            lambda b: b["error"]["param"] == "resolution",
        ),
        (  # v2 reached end of life on 2026-11-01
            f"{e['HEYGEN_BASE_URL']}/v2/video/generate",
            {"X-Api-Key": standins.keys["heygen"]},
            {"video_inputs": []},
            404,
            lambda b: b["error"]["code"] == "not_found",
        ),
        (  # the Veo 3.1 previews were shut down on 2026-10-22
            f"{e['GEMINI_BASE_URL']}/models/veo-3.1-generate-preview:predictLongRunning",
            {"x-goog-api-key": standins.keys["gemini"]},
            {"instances": [{"prompt": "x"}]},
            404,
            lambda b: "no longer available" in b["error"]["message"],
        ),
        (  # 1080p needs an 8 s clip
            f"{e['GEMINI_BASE_URL']}/models/veo-3.1-generate-001:predictLongRunning",
            {"x-goog-api-key": standins.keys["gemini"]},
            {"instances": [{"prompt": "x"}], "parameters": {"resolution": "1080p", "durationSeconds": 4}},
            400,
            lambda b: b["error"]["status"] == "INVALID_ARGUMENT",
        ),
        (
            f"{e['ELEVENLABS_BASE_URL']}/v1/text-to-speech/{ELEVEN_VOICE}",
            {"xi-api-key": standins.keys["elevenlabs"]},
            {"text": "hi", "voice": "nova"},
            422,
            lambda b: b["detail"][0]["loc"] == ["body", "voice"],
        ),
        (  # one of template_id / tags / source
            f"{e['CREATOMATE_BASE_URL']}/renders",
            bearer["creatomate"],
            {"template_id": "t", "source": {"elements": []}},
            400,
            lambda b: "hint" in b,
        ),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for url, headers, body, status, check in cases:
            r = await client.post(url, headers=headers, json=body)
            assert r.status_code == status and check(r.json()), (url, r.status_code, r.text)


async def test_openai_standin_knows_todays_models_and_their_shutdowns(standins: Hub) -> None:
    """gpt-image-1.5 answers 404 from 2026-12-01 and the speech models from 2027-01-06, as OpenAI's
    deprecations page says; the GPT Image 2.6 successors render what the adapter sends them;
    ``instructions`` with tts-1 is refused."""
    from providers import options
    from providers.base import JobSpec
    from providers.openai import OpenAIImage26Adapter

    e = standins.env()
    headers = {"Authorization": f"Bearer {standins.keys['openai']}"}
    images, speech = f"{e['OPENAI_BASE_URL']}/images/generations", f"{e['OPENAI_BASE_URL']}/audio/speech"
    old_image = {"model": "gpt-image-1.5", "prompt": "x", "size": "1024x1024"}
    old_speech = {"model": "tts-1", "input": "hello", "voice": "alloy"}
    previous = standins.today
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            standins.today = date(2026, 11, 30)
            assert (await client.post(images, headers=headers, json=old_image)).status_code == 200
            refused = await client.post(speech, headers=headers, json={**old_speech, "instructions": "calm"})
            assert refused.status_code == 400 and refused.json()["error"]["param"] == "instructions"
            standins.today = date(2026, 12, 1)
            gone = await client.post(images, headers=headers, json=old_image)
            assert gone.status_code == 404 and gone.json()["error"]["code"] == "model_not_found", gone.text
            assert (await client.post(speech, headers=headers, json=old_speech)).status_code == 200
            standins.today = date(2027, 1, 6)
            for model in ("tts-1", "tts-1-hd", "gpt-4o-mini-tts"):
                gone = await client.post(speech, headers=headers, json={**old_speech, "model": model})
                assert gone.status_code == 404, (model, gone.text)
            # The successors, through the adapter: sizes in multiples of 16, the new qualities.
            for provider in ("gpt_image_2_6_sunburst", "gpt_image_2_6_flare"):
                adapter = OpenAIImage26Adapter(client, e["OPENAI_BASE_URL"], standins.keys["openai"])
                for ratio, quality in (("16:9", "xhigh"), ("9:16", "max"), ("1:1", "low"), ("21:9", "auto")):
                    settings = options.normalise(provider, {"quality": quality})
                    spec = JobSpec(
                        job_id=uuid.uuid4().hex,
                        type="image",
                        provider=provider,
                        prompt="a poster",
                        params={"aspect_ratio": ratio, "settings": settings},
                    )
                    done = await adapter.submit(spec)
                    assert done.outputs, (provider, ratio)  # type: ignore[union-attr]  # synchronous: submit answers Done
            bad = {"model": "gpt-image-2.6-flare", "prompt": "x", "size": "1000x1000"}
            refused = await client.post(images, headers=headers, json=bad)
            assert refused.status_code == 400 and refused.json()["error"]["param"] == "size", refused.text
    finally:
        standins.today = previous
