"""Uploaded files as provider inputs: a video's first frame (Runway, Luma, Kling 2.6 and 3.0, Veo),
reference images (FLUX.2 pro, GPT Image, Seedream), HeyGen's photo avatar from a portrait, and
composite elements. The adapters against the provider simulator over real HTTP (the simulator
refuses what the real APIs refuse), and the submission rules in-process on a migrated database:
a file a provider cannot take is a user error before anything is held."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from models import drive, pricing
from models.credits import top_up
from models.drive import DriveFile, FileKind, FileSource, FileStatus
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest, validate
from models.teams import Team, create_team
from providers import options
from providers.ark import ArkAdapter
from providers.base import InputFile, JobSpec, Usage
from providers.bfl import BflAdapter
from providers.creatomate import CreatomateAdapter
from providers.download import fetch_output
from providers.errors import ProviderError, RejectedError
from providers.gemini import GeminiVeoAdapter
from providers.heygen import HeygenAdapter
from providers.http_adapter import HttpAdapter
from providers.kling import KlingAdapter
from providers.luma import LumaAdapter
from providers.openai import OpenAIImage26Adapter
from providers.runway import RunwayAdapter
from providers.simulator import SIMULATOR_BASE_PATHS, media
from services import db
from services.settings import Settings
from tests.graphql_inprocess import gql
from tests.sim_harness import (
    ANY_MEDIA,
    MAX_BYTES,
    image_facts,
    job,
    make_adapter,
    run,
    serve_simulator,
    unique,
    video_facts,
)
from tests.standins import Hub
from tests.standins import media as make
from tests.standins import serve as serve_standins
from tests.test_drive import PDF, MemoryStorage

API_KEY = "ak_inputs:sk_inputs_secret_0123456789abcdef0123456789"
TIME_SCALE = 0.02
QUOTA = 200_000_000

A = TypeVar("A", bound=HttpAdapter)


@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    with serve_simulator(API_KEY, TIME_SCALE) as root:
        yield root


def adapter(cls: type[A], root: str, client: httpx.AsyncClient) -> A:
    return make_adapter(cls, root, client, API_KEY)


def png(width: int, height: int, file_id: str = "file-1") -> InputFile:
    return InputFile(file_id, "image/png", media.png(width, height))


def with_settings(provider: str, spec_kind: str, prompt: str, **params: Any) -> JobSpec:
    """A job as validation leaves it: the provider's settings normalised (defaults filled in)."""
    return job(
        spec_kind,
        provider,
        prompt,
        settings=options.normalise(provider, params.pop("settings", {})),
        **params,
    )


# -- first frames: every video provider that takes one --------------------------------------------

START_IMAGE_PROVIDERS = [
    (RunwayAdapter, "runway_gen4", 5),
    (LumaAdapter, "luma_ray3", 5),
    (KlingAdapter, "kling_2_6", 5),
    (KlingAdapter, "kling_3_0", 5),
    (GeminiVeoAdapter, "veo_3_1", 8),
]


def sent_image(provider: str, body: Any) -> tuple[str, bytes]:
    """(how the image travels, its bytes) in each provider's own form."""
    if provider == "runway_gen4":
        header, _, payload = body[1]["promptImage"].partition(",")
        return header, base64.b64decode(payload)
    if provider == "luma_ray3":
        frame = body["video"]["start_frame"]
        return f"base64 {frame['media_type']}", base64.b64decode(frame["data"])
    if provider.startswith("kling"):
        return "raw base64", base64.b64decode(body[1]["image"])
    image = body["instances"][0]["image"]
    return f"base64 {image['mimeType']}", base64.b64decode(image["bytesBase64Encoded"])


@pytest.mark.parametrize(("cls", "provider", "seconds"), START_IMAGE_PROVIDERS)
async def test_every_video_provider_sends_the_first_frame_its_own_way(
    sim_root: str, client: httpx.AsyncClient, cls: type[HttpAdapter], provider: str, seconds: int
) -> None:
    first = png(640, 360)
    spec = with_settings(
        provider, "video", unique("the product turns slowly"), duration_seconds=seconds, input_files=(first,)
    )
    the_adapter = adapter(cls, sim_root, client)
    form, data = sent_image(provider, the_adapter.build_request(spec))  # type: ignore[attr-defined]
    assert data == first.data  # the uploaded bytes, unchanged
    assert (
        form
        == {
            "runway_gen4": "data:image/png;base64",
            "luma_ray3": "base64 image/png",
            "kling_2_6": "raw base64",
            "kling_3_0": "raw base64",
            "veo_3_1": "base64 image/png",
        }[provider]
    )
    done = await run(the_adapter, spec)
    data, _ = await fetch_output(client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA)
    width, height, length = video_facts(data)
    assert width > height and length == pytest.approx(seconds, abs=0.3)


async def post(
    client: httpx.AsyncClient, root: str, family: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"{root}{SIMULATOR_BASE_PATHS[family]}{path}", json=body, headers=headers)


def data_uri(content_type: str, raw: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(raw).decode()}"


async def test_the_simulator_refuses_first_frames_the_apis_refuse(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    runway = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"}
    base = {"model": "gen4_turbo", "ratio": "1280:720", "duration": 5}
    gif = await post(
        client,
        sim_root,
        "runway",
        "/image_to_video",
        {**base, "promptImage": data_uri("image/gif", media.gif(64, 64))},
        runway,
    )
    assert gif.status_code == 400 and "GIF" in gif.text
    liar = await post(
        client,
        sim_root,
        "runway",
        "/image_to_video",
        {**base, "promptImage": data_uri("image/jpeg", media.png(64, 64))},
        runway,
    )
    assert liar.status_code == 400 and "not the declared image/jpeg" in liar.text
    not_image = await post(
        client,
        sim_root,
        "runway",
        "/image_to_video",
        {**base, "promptImage": data_uri("image/png", PDF)},
        runway,
    )
    assert not_image.status_code == 400 and "not a decodable image" in not_image.text

    luma = {"Authorization": f"Bearer {API_KEY}"}
    frame = {"data": base64.b64encode(media.png(64, 64)).decode(), "media_type": "image/webp"}
    body = {
        "model": "ray-3.2",
        "type": "video",
        "prompt": "x",
        "video": {"duration": "5s", "start_frame": frame},
    }
    answer = await post(client, sim_root, "luma", "/generations", body, luma)
    assert answer.status_code >= 400 and "not the declared image/webp" in answer.text

    veo = {"x-goog-api-key": API_KEY}
    image = {"bytesBase64Encoded": base64.b64encode(media.webp(64, 36)).decode(), "mimeType": "image/webp"}
    body = {
        "instances": [{"prompt": "x", "image": image}],
        "parameters": {"aspectRatio": "16:9", "durationSeconds": 8},
    }
    answer = await post(
        client, sim_root, "gemini", "/models/veo-3.1-generate-001:predictLongRunning", body, veo
    )
    assert answer.status_code == 400 and "image/jpeg or image/png" in answer.text


# -- reference images ----------------------------------------------------------------------------


async def test_flux_sends_references_as_input_image_fields_and_bfl_bills_them(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    refs = (png(1000, 1000, "a"), png(500, 400, "b"))
    spec = with_settings(
        "flux_2_pro", "image", unique("the bottle on this table"), width=1024, height=1024, input_files=refs
    )
    bfl = adapter(BflAdapter, sim_root, client)
    body = bfl.build_request(spec)
    assert base64.b64decode(body["input_image"]) == refs[0].data
    assert base64.b64decode(body["input_image_2"]) == refs[1].data
    assert "input_image_3" not in body
    submitted = await bfl.submit(spec)
    assert submitted.state["input_mp"] == pytest.approx(1.2, abs=0.01)  # type: ignore[union-attr]
    done = await run(bfl, spec)
    assert done.outputs[0].url

    headers = {"x-key": API_KEY}
    ninth = {"prompt": "x", **{f"input_image_{n}": body["input_image"] for n in range(2, 10)}}
    refused = await post(client, sim_root, "bfl", "/v1/flux-2-pro", ninth, headers)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "input_image_9"]
    garbage = await post(
        client, sim_root, "bfl", "/v1/flux-2-pro", {"prompt": "x", "input_image": "bm90IGFuIGltYWdl"}, headers
    )
    assert garbage.status_code == 422 and "not a decodable image" in garbage.text


async def test_gpt_image_with_references_calls_the_edits_endpoint(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    refs = (png(512, 512, "a"), InputFile("b", "image/jpeg", media.jpeg(640, 480)))
    spec = with_settings(
        "gpt_image_2_6_sunburst",
        "image",
        unique("this logo on a mug"),
        width=1024,
        height=1024,
        wire_model="gpt-image-2.6-sunburst",
        input_files=refs,
    )
    done = await run(adapter(OpenAIImage26Adapter, sim_root, client), spec)
    assert done.usage is not None and done.outputs[0].data
    assert image_facts(done.outputs[0].data)[1] == (1024, 1024)

    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{sim_root}{SIMULATOR_BASE_PATHS['openai']}/images/edits"
    form = {"model": "gpt-image-2.6-sunburst", "prompt": "x"}
    gif = await client.post(
        url, data=form, files=[("image[]", ("a.gif", media.gif(32, 32), "image/gif"))], headers=headers
    )
    assert gif.status_code == 400 and gif.json()["error"]["code"] == "invalid_image_format"
    as_json = await client.post(url, json=form, headers=headers)
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.text


async def test_seedream_takes_references_as_data_uris(sim_root: str, client: httpx.AsyncClient) -> None:
    refs = (png(640, 640, "a"), png(800, 600, "b"))
    spec = with_settings(
        "seedream_4_5",
        "image",
        unique("these two products side by side"),
        aspect_ratio="1:1",
        input_files=refs,
    )
    ark = adapter(ArkAdapter, sim_root, client)
    images = ark.build_request(spec)["image"]
    assert [i.split(",")[0] for i in images] == ["data:image/png;base64"] * 2
    done = await run(ark, spec)
    assert done.outputs


# -- HeyGen's photo avatar from a portrait ------------------------------------------------------------


async def test_heygen_portrait_is_a_type_image_video(sim_root: str, client: httpx.AsyncClient) -> None:
    portrait = InputFile("p", "image/jpeg", media.jpeg(512, 640))
    spec = with_settings(
        "heygen", "avatar", unique("Hello from our shop"), voice_id="v1", input_files=(portrait,)
    )
    heygen = adapter(HeygenAdapter, sim_root, client)
    body = heygen.build_request(spec)
    assert body["type"] == "image" and "avatar_id" not in body
    assert body["image"]["type"] == "base64" and body["image"]["media_type"] == "image/jpeg"
    assert base64.b64decode(body["image"]["data"]) == portrait.data
    assert heygen.priced_tier(spec) == {"resolution": "hd", "avatar": "photo"}
    done = await run(heygen, spec)
    assert done.outputs[0].url

    headers = {"X-Api-Key": API_KEY}
    both = {**body, "avatar_id": "a1"}
    answer = await post(client, sim_root, "heygen", "/v3/videos", both, headers)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "avatar_id"
    liar = {**body, "image": {**body["image"], "media_type": "image/png"}}
    answer = await post(client, sim_root, "heygen", "/v3/videos", liar, headers)
    assert answer.status_code == 400 and "not the declared image/png" in answer.text


# -- submission rules, in-process ---------------------------------------------------------------------


@pytest.fixture(scope="module")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[None]:
    tmp: Path = tmp_path_factory.mktemp("inputs")
    settings = Settings(env="development", data_dir=tmp, database_url=f"sqlite://{tmp / 'inputs.sqlite3'}")
    EXECUTOR_CACHE.clear()
    await db.migrate(settings)
    await db.init(settings)
    try:
        yield
    finally:
        await db.close()
        EXECUTOR_CACHE.clear()


@pytest.fixture
async def team(database: None) -> uuid.UUID:
    team_id = (await create_team("inputs")).team.id
    await top_up(team_id, 5_000)
    return team_id


async def upload(team: uuid.UUID, name: str, data: bytes) -> str:
    file = await drive.upload_file(MemoryStorage(), team, name=name, data=data, quota_bytes=QUOTA)  # type: ignore[arg-type]
    return str(file.id)


def request(team: uuid.UUID, kind: str, **fields: Any) -> GenerationRequest:
    text = {"avatar": "Hello and welcome to the shop"}.get(kind, "a bottle of olive oil")
    return GenerationRequest(type=kind, team_id=team, user_id=uuid.uuid4(), text=text, **fields)


async def refused(req: GenerationRequest, code: ErrorCode, field: list[str], words: str) -> DomainError:
    balance = (await Team.get(id=req.team_id)).balance_cents
    with pytest.raises(DomainError) as caught:
        await validate(req)
    error = caught.value
    assert (error.code, error.field) == (code, field), error.message
    assert words in error.message, error.message
    assert (await Team.get(id=req.team_id)).balance_cents == balance  # nothing held or charged
    return error


async def test_a_first_frame_is_checked_against_the_provider_before_anything_is_held(team: uuid.UUID) -> None:
    photo = await upload(team, "product.png", make.image("png", 640, 360))
    for provider in ("runway_gen4", "luma_ray3", "kling_2_6", "kling_3_0", "veo_3_1"):
        new = await validate(
            request(team, "video", provider=provider, image_file_id=photo, duration_seconds=None)
        )
        assert new.settings["image_file_id"] == photo

    field = ["input", "imageFileId"]
    tiny = await upload(team, "tiny.png", make.image("png", 200, 200))
    await refused(
        request(team, "video", provider="kling_3_0", image_file_id=tiny),
        ErrorCode.VALIDATION_FAILED,
        field,
        "at least 300 px",
    )
    strip = await upload(team, "strip.png", make.image("png", 1500, 400))
    await refused(
        request(team, "video", provider="kling_2_6", image_file_id=strip),
        ErrorCode.VALIDATION_FAILED,
        field,
        "2.5:1",
    )
    webp = await upload(team, "photo.webp", make.image("webp", 640, 360))
    await refused(
        request(team, "video", provider="veo_3_1", image_file_id=webp),
        ErrorCode.VALIDATION_FAILED,
        field,
        "JPEG, PNG",
    )
    gif = await upload(team, "anim.gif", make.gif(64, 64))
    await refused(
        request(team, "video", provider="runway_gen4", image_file_id=gif),
        ErrorCode.VALIDATION_FAILED,
        field,
        "JPEG, PNG, WebP",
    )


async def test_wrong_kind_foreign_and_pending_files_are_user_errors(team: uuid.UUID) -> None:
    field = ["input", "imageFileId"]
    jingle = await upload(team, "jingle.mp3", make.audio("mp3", 1.0))
    await refused(
        request(team, "video", image_file_id=jingle),
        ErrorCode.VALIDATION_FAILED,
        field,
        "must be an image file, not audio/mpeg",
    )
    # A PDF is refused at upload; a row of another type (stored before the checks) is refused here.
    with pytest.raises(DomainError):
        await upload(team, "brief.pdf", PDF)
    pdf = await recorded_file(team, "brief.pdf", "application/pdf", len(PDF))
    await refused(
        request(team, "video", image_file_id=str(pdf.id)),
        ErrorCode.VALIDATION_FAILED,
        field,
        "not application/pdf",
    )

    other = (await create_team("someone else")).team.id
    theirs = await upload(other, "theirs.png", make.image("png", 640, 360))
    missing = str(uuid.uuid4())
    foreign = await refused(
        request(team, "video", image_file_id=theirs), ErrorCode.NOT_FOUND, field, "not found"
    )
    absent = await refused(
        request(team, "video", image_file_id=missing), ErrorCode.NOT_FOUND, field, "not found"
    )
    assert foreign.message == absent.message
    pending = await drive.create_upload(
        team, name="big.png", size_bytes=1000, content_type="image/png", quota_bytes=QUOTA
    )
    assert pending.status == FileStatus.PENDING
    for kind, fields, where in (
        ("video", {"image_file_id": str(pending.id)}, field),
        ("image", {"reference_file_ids": [str(pending.id)]}, ["input", "referenceFileIds", "0"]),
        ("avatar", {"portrait_file_id": str(pending.id), "voice_id": "v"}, ["input", "portraitFileId"]),
    ):
        await refused(request(team, kind, **fields), ErrorCode.NOT_FOUND, where, "not found")


async def test_reference_images_per_provider_and_their_price(team: uuid.UUID) -> None:
    ref = await upload(team, "logo.png", make.image("png", 1000, 1000))
    plain = await validate(request(team, "image", provider="flux_2_pro"))
    guided = await validate(request(team, "image", provider="flux_2_pro", reference_file_ids=[ref, ref]))
    assert guided.settings["reference_file_ids"] == [ref, ref]
    assert guided.settings["input_megapixels"] == pytest.approx(2.0)
    # BFL bills 1.5 credits (cents) per input megapixel: two 1 MP references add 3 cents
    assert guided.estimated_cost_cents == plain.estimated_cost_cents + 3
    assert pricing.input_megapixels(guided.settings) == pytest.approx(2.0)
    for provider in ("gpt_image_2_6_flare", "seedream_4_5"):
        assert (await validate(request(team, "image", provider=provider, reference_file_ids=[ref]))).settings[
            "reference_file_ids"
        ] == [ref]

    field = ["input", "referenceFileIds"]
    await refused(
        request(team, "image", provider="flux_2_pro", reference_file_ids=[ref] * 9),
        ErrorCode.VALIDATION_FAILED,
        field,
        "at most 8",
    )
    clip = await upload(team, "clip.mp4", make.mp4(64, 64, 1.0))
    await refused(
        request(team, "image", provider="seedream_4_5", reference_file_ids=[ref, clip]),
        ErrorCode.VALIDATION_FAILED,
        [*field, "1"],
        "must be an image file, not video/mp4",
    )


async def test_a_portrait_makes_a_photo_avatar_at_the_photo_rate(team: uuid.UUID) -> None:
    portrait = await upload(team, "me.jpg", make.image("jpeg", 512, 640))
    photo = await validate(request(team, "avatar", portrait_file_id=portrait, voice_id="v1"))
    studio = await validate(request(team, "avatar", avatar_id="a1", voice_id="v1"))
    assert photo.settings["portrait_file_id"] == portrait and photo.settings["avatar_id"] is None
    assert photo.estimated_cost_cents < studio.estimated_cost_cents  # $0.05/s against $0.0667/s
    await refused(
        request(team, "avatar", portrait_file_id=portrait, avatar_id="a1", voice_id="v1"),
        ErrorCode.VALIDATION_FAILED,
        ["input", "avatarId"],
        "exactly one of avatarId or portraitFileId",
    )
    webp = await upload(team, "me.webp", make.image("webp", 512, 640))
    await refused(
        request(team, "avatar", portrait_file_id=webp, voice_id="v1"),
        ErrorCode.VALIDATION_FAILED,
        ["input", "portraitFileId"],
        "PNG, JPEG",
    )


LOGO_SOURCE = {
    "output_format": "png",
    "width": 1080,
    "height": 1080,
    "elements": [
        {"name": "Background", "type": "image", "source": ""},
        {"name": "Logo", "type": "image", "source": "", "width": "20%", "x": "85%", "y": "10%"},
        {"name": "Title", "type": "text", "text": "Spring sale"},
    ],
}


async def test_composite_inputs_must_fill_an_element_of_their_kind(team: uuid.UUID) -> None:
    logo = await upload(team, "logo.png", make.image("png", 400, 200))
    background = await upload(team, "background.jpg", make.image("jpeg", 1080, 1080))
    new = await validate(
        request(
            team,
            "composite",
            source=LOGO_SOURCE,
            inputs=[{"name": "Background", "fileId": background}, {"name": "Logo", "fileId": logo}],
        )
    )
    assert new.settings["inputs"] == [
        {"name": "Background", "file_id": background},
        {"name": "Logo", "file_id": logo},
    ]
    jingle = await upload(team, "jingle.mp3", make.audio("mp3", 1.0))
    await refused(
        request(team, "composite", source=LOGO_SOURCE, inputs=[{"name": "Logo", "fileId": jingle}]),
        ErrorCode.VALIDATION_FAILED,
        ["input", "inputs", "0", "fileId"],
        "takes image",
    )
    await refused(
        request(team, "composite", source=LOGO_SOURCE, inputs=[{"name": "Title", "fileId": logo}]),
        ErrorCode.VALIDATION_FAILED,
        ["input", "inputs", "0", "name"],
        "is a text element",
    )
    await refused(
        request(team, "composite", source=LOGO_SOURCE, inputs=[{"name": "Watermark", "fileId": logo}]),
        ErrorCode.VALIDATION_FAILED,
        ["input", "inputs", "0", "name"],
        "no element named 'Watermark'",
    )
    # a template's elements are not known here: the kind is left to Creatomate
    templated = await validate(
        request(team, "composite", template_id="t1", inputs=[{"name": "Logo", "fileId": jingle}])
    )
    assert templated.settings["inputs"][0]["file_id"] == jingle


# -- composite elements: the provider downloads what fills them ---------------------------------------


async def test_creatomate_downloads_each_input_and_fails_a_render_it_cannot_load(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    flux = adapter(BflAdapter, sim_root, client)
    made = await run(
        flux,
        with_settings(
            "flux_2_pro", "image", unique("a logo"), width=512, height=256, settings={"output_format": "png"}
        ),
    )
    logo_url = str(made.outputs[0].url)  # a URL that redirects to a CDN, as Drive's signed links may
    creatomate = adapter(CreatomateAdapter, sim_root, client)
    source = {
        "output_format": "png",
        "width": 640,
        "height": 640,
        "elements": [{"name": "Logo", "type": "image"}],
    }

    def composite(url: str) -> JobSpec:
        return with_settings("creatomate", "composite", None, source=source, modifications={"Logo": url})

    done = await run(creatomate, composite(logo_url))
    assert done.outputs[0].url
    with pytest.raises(RejectedError, match="could not be loaded"):
        await run(creatomate, composite("http://127.0.0.1:9/gone.png"))


# -- the independent stand-ins (written from the providers' docs) take the same requests -------------


@pytest.fixture(scope="module")
def standins() -> Iterator[Hub]:
    with serve_standins() as hub:
        yield hub


async def test_the_stand_ins_accept_the_new_inputs_and_refuse_bad_ones(
    standins: Hub, client: httpx.AsyncClient
) -> None:
    env = standins.env()
    refs = (png(512, 512, "a"), InputFile("b", "image/jpeg", media.jpeg(640, 480)))
    gpt = OpenAIImage26Adapter(
        client, env["OPENAI_BASE_URL"], env["OPENAI_API_KEY"], poll_interval_scale=0.01
    )
    spec = with_settings(
        "gpt_image_2_6_flare",
        "image",
        unique("a mug with this logo"),
        width=1024,
        height=1024,
        wire_model="gpt-image-2.6-flare",
        input_files=refs,
    )
    assert (await run(gpt, spec)).outputs[0].data
    bad = with_settings(
        "gpt_image_2_6_flare",
        "image",
        unique("x"),
        width=1024,
        height=1024,
        wire_model="gpt-image-2.6-flare",
        input_files=(InputFile("g", "image/gif", media.gif(32, 32)),),
    )
    with pytest.raises(ProviderError, match="format must be png, webp or jpeg"):
        await gpt.submit(bad)

    heygen = HeygenAdapter(client, env["HEYGEN_BASE_URL"], env["HEYGEN_API_KEY"], poll_interval_scale=0.01)
    portrait = InputFile("p", "image/png", media.png(400, 500))
    assert await heygen.submit(
        with_settings("heygen", "avatar", unique("Hi there"), voice_id="v1", input_files=(portrait,))
    )
    liar = InputFile("p", "image/jpeg", media.png(400, 500))  # PNG bytes declared as JPEG
    with pytest.raises(ProviderError, match="media_type must be the image's type"):
        await heygen.submit(
            with_settings("heygen", "avatar", unique("Hi"), voice_id="v1", input_files=(liar,))
        )

    bfl = BflAdapter(client, env["BFL_BASE_URL"], env["BFL_API_KEY"], poll_interval_scale=0.01)
    flux = with_settings(
        "flux_2_pro", "image", unique("this bottle"), width=1024, height=1024, input_files=refs
    )
    assert await bfl.submit(flux)


async def test_the_providers_query_says_what_each_provider_takes() -> None:
    limits = "contentTypes maxBytes maxCount minSidePixels maxAspectRatio"
    q = (
        f"{{ providers {{ provider startImage {{ {limits} }} referenceImages {{ {limits} }} "
        f"portraitImage {{ {limits} }} priceInputMegapixelCents priceInputMegapixelsCap priceInputImageCents }} }}"
    )
    rows = {r["provider"]: r for r in (await gql(q))["data"]["providers"]}
    kling = rows["KLING_3_0"]["startImage"]
    assert kling == {
        "contentTypes": ["image/jpeg", "image/png"],
        "maxBytes": 10 * 1024 * 1024,
        "maxCount": 1,
        "minSidePixels": 300,
        "maxAspectRatio": 2.5,
    }
    assert rows["RUNWAY_GEN4"]["startImage"]["contentTypes"] == ["image/jpeg", "image/png", "image/webp"]
    assert rows["FLUX_2_PRO"]["referenceImages"]["maxCount"] == 8
    assert rows["FLUX_2_PRO"]["priceInputMegapixelCents"] == 1.5
    assert rows["FLUX_2_PRO"]["priceInputMegapixelsCap"] == 9.0
    assert (
        rows["GPT_IMAGE_2_6_FLARE"]["priceInputImageCents"],
        rows["GPT_IMAGE_2_6_FLARE"]["priceInputMegapixelCents"],
    ) == (6.4, 0.0)
    assert (
        rows["SEEDREAM_4_5"]["priceInputImageCents"] == 0.0
        and rows["SEEDREAM_4_5"]["priceInputMegapixelsCap"] is None
    )
    assert rows["SEEDREAM_4_5"]["referenceImages"]["maxCount"] == 14
    assert rows["GPT_IMAGE_2_6_FLARE"]["referenceImages"]["maxCount"] == 16
    assert rows["HEYGEN"]["portraitImage"]["contentTypes"] == ["image/png", "image/jpeg"]
    assert rows["HEYGEN"]["startImage"] is None and rows["ELEVENLABS"]["referenceImages"] is None


async def test_estimate_cost_prices_references_and_portraits() -> None:
    q = "query ($i: EstimateCostInput!) { estimateCost(input: $i) { cents } }"

    async def cents(**fields: Any) -> int:
        answer = await gql(q, {"i": fields})
        assert "errors" not in answer, answer
        value: int = answer["data"]["estimateCost"]["cents"]
        return value

    flux = {"type": "IMAGE", "provider": "FLUX_2_PRO", "width": 1024, "height": 1024}
    assert await cents(**flux, referenceMegapixels=2.0) == await cents(**flux) + 3  # 1.5 ¢ per input MP
    # at most 9 MP: ceil(3.07 + 13.5) = 17 against ceil(3.07) = 4
    assert (
        await cents(**flux, referenceMegapixels=100.0) == await cents(**flux, referenceMegapixels=9.0) == 17
    )
    # GPT Image: a price per reference image, whatever its megapixels (as generateImage holds it)
    gpt = {"type": "IMAGE", "provider": "GPT_IMAGE_2_6_FLARE", "width": 1024, "height": 1024}
    assert await cents(**gpt) == 6  # 1.05 MP × 5 ¢ = 5.24 ¢
    assert await cents(**gpt, referenceImages=1, referenceMegapixels=48.0) == 12  # + 6.4 ¢
    assert await cents(**gpt, referenceImages=3) == 25  # + 19.2 ¢
    assert await cents(**gpt, referenceMegapixels=0.5) == 12  # megapixels alone: one image
    too_many = await gql(q, {"i": {**gpt, "referenceImages": 17}})
    assert too_many["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    avatar = {"type": "AVATAR", "provider": "HEYGEN", "durationSeconds": 30}
    assert await cents(**avatar, withPortrait=True) == 150  # $0.05/s
    assert await cents(**avatar) == 201  # $0.0667/s
    refused = await gql(q, {"i": {**flux, "referenceMegapixels": -1.0}})
    assert refused["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"


async def recorded_file(
    team: uuid.UUID,
    name: str,
    content_type: str,
    size_bytes: int,
    width: int | None = None,
    height: int | None = None,
) -> DriveFile:
    """A ready Drive row with these recorded facts (its bytes are never read: submission checks
    and prices files by their facts), as a file stored before today's upload checks would be."""
    folder = await drive.default_folder(team)
    return await DriveFile.create(
        team_id=team,
        folder_id=folder.id,
        name=name,
        content_type=content_type,
        kind=FileKind.IMAGE,
        source=FileSource.UPLOADED,
        size_bytes=size_bytes,
        width=width,
        height=height,
        storage_key=f"{team}/uploads/{uuid.uuid4()}",
    )


async def photo_row(team: uuid.UUID, width: int, height: int) -> str:
    """A phone photo as the Drive records it."""
    return str((await recorded_file(team, "IMG_0001.jpg", "image/jpeg", 9_000_000, width, height)).id)


async def test_references_are_priced_as_the_provider_bills_them_not_by_their_pixels(team: uuid.UUID) -> None:
    """OpenAI resizes an input image before counting its tokens, so a 48 MP photo costs what a
    small logo costs: a per-image figure; BFL processes at most 9 input megapixels a request."""
    logo = await upload(team, "logo.png", make.image("png", 200, 100))
    photo = await photo_row(team, 8000, 6000)  # 48 MP
    per_image = {"gpt_image_1_5": 8.0, "gpt_image_2_6_sunburst": 6.4, "gpt_image_2_6_flare": 6.4}
    for provider in per_image:
        plain = (await validate(request(team, "image", provider=provider))).estimated_cost_cents
        with_logo = await validate(request(team, "image", provider=provider, reference_file_ids=[logo]))
        with_photo = await validate(request(team, "image", provider=provider, reference_file_ids=[photo]))
        cents = per_image[with_photo.provider]  # gpt_image_1_5 runs as its successor once shut down
        assert with_photo.estimated_cost_cents == with_logo.estimated_cost_cents, provider
        assert plain + cents <= with_photo.estimated_cost_cents <= plain + cents + 1, provider
        three = await validate(
            request(team, "image", provider=provider, reference_file_ids=[photo, logo, photo])
        )
        assert three.estimated_cost_cents - plain == pytest.approx(3 * cents, abs=1), provider

    flux_plain = (await validate(request(team, "image", provider="flux_2_pro"))).estimated_cost_cents
    one = await validate(request(team, "image", provider="flux_2_pro", reference_file_ids=[logo]))
    assert one.estimated_cost_cents == flux_plain + 1  # 0.02 MP × 1.5 ¢ (rounded up)
    big = await photo_row(team, 4000, 4000)  # 16 MP: within BFL's per-image cap of ours (20 MP)
    many = await validate(request(team, "image", provider="flux_2_pro", reference_file_ids=[big] * 8))
    assert many.settings["input_megapixels"] == pytest.approx(128.0)  # the facts stay as they are
    assert many.estimated_cost_cents == flux_plain + 14  # at most 9 MP × 1.5 ¢ = 13.5 ¢
    # Seedream prices an image the same with or without references
    seedream = [
        (
            await validate(request(team, "image", provider="seedream_4_5", reference_file_ids=refs))
        ).estimated_cost_cents
        for refs in ([], [big, big])
    ]
    assert seedream == [4, 4]

    # the final charge prices the same references the same way (hold and charge agree)
    for new in (with_photo, three, many):
        row = SimpleNamespace(
            id=uuid.uuid4(),
            provider=new.provider,
            type="image",
            prompt=new.prompt,
            settings=new.settings,
            estimated_cost_cents=new.estimated_cost_cents,
        )
        units = pricing.estimate_units("image", new.prompt, new.settings)
        if pricing.price_table().get(new.provider, "image").unit == "image":
            units = 1.0
        usage = Usage(units=units, details={"quality": new.settings["settings"].get("quality", "medium")})
        assert pricing.final_cost(row, usage) == new.estimated_cost_cents, new.provider
