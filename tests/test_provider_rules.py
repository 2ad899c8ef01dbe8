"""The providers' own rules (docs/providers.md, "Rules enforced at validation"), each tried as bad input: refused by our validation with
VALIDATION_FAILED naming the field and the allowed values, before any credit is held; refused by
the simulator with the provider's real error; and the failures the providers report, classified
as final. Plus production downloads through a redirect to a second host (the CDN)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from models.errors import DomainError, ErrorCode
from models.generation import price, provider_settings
from providers.base import Done, InputFile
from providers.bfl import BflAdapter
from providers.catalog import CATALOG
from providers.download import fetch_output
from providers.errors import ModerationError, OutputError, RejectedError, RetryableError
from providers.hosts import output_hosts
from providers.kling import KlingAdapter, kling_token, split_key
from providers.luma import LumaAdapter
from providers.runway import RunwayAdapter
from providers.simulator import SIMULATOR_BASE_PATHS
from tests.graphql_inprocess import gql
from tests.sim_harness import (
    ANY_MEDIA,
    MAX_BYTES,
    job,
    make_adapter,
    mock_client,
    run,
    serve_simulator,
    unique,
)
from tests.stack import Stack, Team
from tests.test_generation import GENERATE, balance, generate

API_KEY = "ak_rules:sk_rules_0123456789abcdef0123456789abcdef"
TIME_SCALE = 0.02
PNG = InputFile("f", "image/png", b"\x89PNG\r\n\x1a\n")


# -- validation: each rule is a user error naming the field, before anything is held -------------
def refusal(provider: str, kind: str, settings: dict[str, Any], **params: Any) -> DomainError:
    """What validation says of a job of ``provider`` with these settings and parameters."""
    with pytest.raises(DomainError) as caught:
        checked = provider_settings(provider, settings)
        price(provider, kind, "a prompt", {"settings": checked, **params})
    return caught.value


RULES = [
    # (provider, type, settings, params, field, words the message must hold)
    ("flux_2_pro", "image", {"width": 1000, "height": 1024}, {}, "width", ("multiple of 16", "1000")),
    ("flux_2_pro", "image", {"width": 1024, "height": 1030}, {}, "height", ("multiple of 16",)),
    ("seedream_4_5", "image", {"size": "1K"}, {}, "size", ("1K", "2K", "4K")),
    ("kling_2_6", "video", {"mode": "std", "sound": "on"}, {"duration_seconds": 5}, "sound", ("pro", "std")),
    ("kling_2_6", "video", {"mode": "std", "sound": True}, {"duration_seconds": 5}, "sound", ("pro",)),
]


@pytest.mark.parametrize(("provider", "kind", "settings", "params", "field", "words"), RULES)
def test_a_setting_the_provider_refuses_is_a_validation_error_naming_it(
    provider: str,
    kind: str,
    settings: dict[str, Any],
    params: dict[str, Any],
    field: str,
    words: tuple[str, ...],
) -> None:
    error = refusal(provider, kind, settings, aspect_ratio="1:1", **params)
    assert error.code == ErrorCode.VALIDATION_FAILED
    assert error.field == ["input", "settings", field]
    assert all(word in error.message for word in words), error.message


def test_luma_ray3_renders_ten_seconds_from_text_only() -> None:
    settings = provider_settings("luma_ray3", {})
    video = {"settings": settings, "aspect_ratio": "16:9"}
    error = refusal("luma_ray3", "video", {}, aspect_ratio="16:9", duration_seconds=10, image_file_id="f")
    assert (error.code, error.field) == (ErrorCode.VALIDATION_FAILED, ["input", "durationSeconds"])
    assert "text only" in error.message and "5" in error.message
    # Text alone may be 10 s, an image with 5 s is fine.
    assert price("luma_ray3", "video", "x", {**video, "duration_seconds": 10}) > 0
    assert price("luma_ray3", "video", "x", {**video, "duration_seconds": 5, "image_file_id": "f"}) > 0


def test_what_the_providers_accept_still_passes() -> None:
    assert provider_settings("flux_2_pro", {"width": 1024, "height": 768})["width"] == 1024
    assert provider_settings("seedream_4_5", {"size": "2K"})["size"] == "2K"
    assert provider_settings("kling_2_6", {"sound": "on"}) == {"mode": "pro", "sound": "on"}
    assert provider_settings("kling_3_0", {"mode": "std", "sound": "on"})["sound"] == "on"


def test_kling_always_sends_and_prices_the_mode() -> None:
    adapter = KlingAdapter(None, "", "")  # type: ignore[arg-type]  # no HTTP client: it sends nothing here
    for provider, mode in (("kling_2_6", "pro"), ("kling_3_0", "std")):
        spec = job("video", provider, "x", settings=provider_settings(provider, {}), duration_seconds=5)
        _, body = adapter.build_request(spec)
        assert (body["mode"], body["sound"]) == (mode, "off")
        assert adapter.priced_tier(spec) == {"mode": mode, "sound": "off"}


BAD_INPUTS = [
    ("image", {"prompt": "a fox", "settings": {"width": 1000, "height": 1024}}, "width"),
    ("image", {"prompt": "a fox", "provider": "SEEDREAM_4_5", "settings": {"size": "1K"}}, "size"),
    (
        "video",
        {
            "prompt": "a ball",
            "provider": "KLING_2_6",
            "durationSeconds": 5,
            "settings": {"mode": "std", "sound": "on"},
        },
        "sound",
    ),
]


@pytest.mark.parametrize(
    ("kind", "input", "field"), BAD_INPUTS, ids=lambda v: v if isinstance(v, str) else None
)
async def test_a_provider_rule_broken_through_the_api_is_a_user_error(
    kind: str, input: dict[str, Any], field: str
) -> None:
    payload = next(iter((await gql(GENERATE[kind], {"input": input}))["data"].values()))
    assert payload["job"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "settings", field]), error


async def test_a_provider_rule_broken_through_the_api_holds_nothing(stack: Stack, team: Team) -> None:
    kind, input, field = BAD_INPUTS[0]
    before = await balance(stack, team)
    payload = await generate(stack, team, kind, input)
    assert payload["job"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "settings", field]), error
    assert await balance(stack, team) == before and before["heldCents"] == 0


# -- the simulator refuses what the real APIs refuse, with their error bodies --------------------
@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    with serve_simulator(API_KEY, TIME_SCALE) as root:
        yield root


def _url(root: str, family: str, path: str) -> str:
    return f"{root}{SIMULATOR_BASE_PATHS[family]}{path}"


def test_the_simulator_refuses_each_rule_with_the_providers_error(sim_root: str) -> None:
    kling = {"Authorization": f"Bearer {kling_token(*split_key(API_KEY))}"}
    bearer = {"Authorization": f"Bearer {API_KEY}"}
    frame = {"data": "iVBORw0KGgo=", "media_type": "image/png"}
    with httpx.Client(timeout=10) as client:
        bfl = client.post(
            _url(sim_root, "bfl", "/v1/flux-2-pro"),
            headers={"x-key": API_KEY},
            json={"prompt": "x", "width": 1000, "height": 1024},
        )
        assert bfl.status_code == 422 and bfl.json()["detail"][0]["loc"] == ["body", "width"], bfl.text
        ark = client.post(
            _url(sim_root, "ark", "/images/generations"),
            headers=bearer,
            json={"model": "seedream-4-5-251128", "prompt": "x", "size": "1K"},
        )
        error = ark.json()["error"]
        assert ark.status_code == 400 and (error["code"], error["param"]) == ("InvalidParameter", "size"), (
            ark.text
        )
        for model, mode in (("kling-v2-6", "std"), ("kling-v2-1", "pro")):
            answer = client.post(
                _url(sim_root, "kling", "/videos/text2video"),
                headers=kling,
                json={"model_name": model, "prompt": "x", "duration": "5", "mode": mode, "sound": "on"},
            )
            assert answer.status_code == 400 and answer.json()["code"] == 1201, answer.text
            assert "sound" in answer.json()["message"]
        luma = client.post(
            _url(sim_root, "luma", "/generations"),
            headers=bearer,
            json={
                "model": "ray-3.2",
                "type": "video",
                "prompt": "x",
                "video": {"duration": "10s", "start_frame": frame},
            },
        )
        assert luma.status_code == 422 and "start_frame" in luma.json()["detail"], luma.text
        # The other limits the catalogue knows: durations and text lengths.
        long = client.post(
            _url(sim_root, "kling", "/videos/text2video"),
            headers=kling,
            json={"model_name": "kling-v2-6", "prompt": "x" * 2501, "duration": "5", "mode": "pro"},
        )
        assert long.status_code == 400 and long.json()["code"] == 1201, long.text
        for seconds in ("7", "15"):
            answer = client.post(
                _url(sim_root, "kling", "/videos/text2video"),
                headers=kling,
                json={"model_name": "kling-v2-6", "prompt": "x", "duration": seconds, "mode": "pro"},
            )
            assert answer.status_code == 400 and answer.json()["code"] == 1201, answer.text


async def test_runway_bad_output_is_final_and_safety_text_is_moderation(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    adapter = make_adapter(RunwayAdapter, sim_root, client, API_KEY)
    video = {"aspect_ratio": "16:9", "duration_seconds": 5, "settings": {}}
    with pytest.raises(RejectedError) as failed:
        await run(adapter, job("video", "runway_gen4", unique("a lamp [sim:fail]"), **video))
    # Final: the worker fails the job now instead of polling the FAILED task again.
    assert not isinstance(failed.value, RetryableError | ModerationError)
    assert failed.value.code == "INTERNAL.BAD_OUTPUT.CODE01"
    with pytest.raises(ModerationError) as moderated:
        await run(adapter, job("video", "runway_gen4", unique("a lamp [sim:moderate]"), **video))
    assert moderated.value.code == "INPUT_PREPROCESSING.SAFETY.TEXT"


async def test_bfl_error_text_reaches_the_server_log_not_the_tenant(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    # BFL's documented failure: status Error, its text in a top-level "error".
    answer = {"id": "t", "status": "Error", "error": "Input image could not be decoded", "result": None}
    adapter = BflAdapter(
        mock_client(lambda request: httpx.Response(200, json=answer)), "https://api.bfl.ai", "k"
    )
    with pytest.raises(RejectedError) as failed:
        await adapter.poll(job("image", "flux_2_pro", "a fox"), "t", {})
    assert "Input image could not be decoded" in failed.value.message  # what the server log gets
    assert "decoded" not in failed.value.public  # tenants see the class's fixed text
    # The simulator answers the same shape.
    with pytest.raises(RejectedError) as simulated:
        await run(
            make_adapter(BflAdapter, sim_root, client, API_KEY),
            job("image", "flux_2_pro", unique("a fox [sim:fail]"), width=1024, height=1024),
        )
    assert "The generation failed on our side." in simulated.value.message


# -- production downloads: https, host lists, a redirect to a second host ------------------------
CDN_HOST = "127.0.0.1"  # the simulator's CDN answers on the loopback alias of "localhost"


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ssl.SSLContext]]:
    """The simulator over https as ``localhost``, its CDN as 127.0.0.1; a certificate for both."""
    ca = trustme.CA()
    tmp = tmp_path_factory.mktemp("tls")
    cert = Path(tmp / "cert.pem")
    ca.issue_cert("localhost", CDN_HOST).private_key_and_cert_chain_pem.write_to_path(str(cert))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with serve_simulator(API_KEY, TIME_SCALE, tls_cert=str(cert)) as root:
        yield root.replace("https://127.0.0.1", "https://localhost"), context


PRODUCTION_JOBS = [
    (BflAdapter, job("image", "flux_2_pro", "a fox", width=1024, height=1024)),
    (
        LumaAdapter,
        job(
            "video",
            "luma_ray3",
            "a lake",
            aspect_ratio="16:9",
            duration_seconds=5,
            settings={"resolution": "720p"},
        ),
    ),
    (
        RunwayAdapter,
        job("video", "runway_gen4", "a lamp", aspect_ratio="16:9", duration_seconds=5, settings={}),
    ),
    (
        KlingAdapter,
        job(
            "video",
            "kling_2_6",
            "a ball",
            aspect_ratio="16:9",
            duration_seconds=5,
            settings={"mode": "pro", "sound": "off"},
        ),
    ),
]


@pytest.mark.parametrize(("cls", "spec"), PRODUCTION_JOBS, ids=lambda v: getattr(v, "family", None))
async def test_production_downloads_follow_the_cdn_redirect_only_to_allowed_hosts(
    tls_sim: tuple[str, ssl.SSLContext], cls: Any, spec: Any
) -> None:
    root, context = tls_sim
    family = cls.family
    async with httpx.AsyncClient(timeout=10, verify=context) as client:
        done = await run(make_adapter(cls, root, client, API_KEY), spec)
        assert isinstance(done, Done) and done.outputs[0].url
        first = httpx.URL(done.outputs[0].url)
        assert (first.scheme, first.host) == ("https", "localhost")
        hop = await client.get(first)
        assert hop.status_code == 302 and httpx.URL(hop.headers["location"]).host == CDN_HOST

        # The hosts production allows (as the worker reads them): both hops pass.
        allowed = output_hosts(family, {f"{family.upper()}_OUTPUT_HOSTS": f"localhost,{CDN_HOST}"})
        data, content_type = await fetch_output(
            client,
            done.outputs[0],
            max_bytes=MAX_BYTES,
            allowed_types=ANY_MEDIA,
            allowed_hosts=allowed,
            require_https=True,
        )
        assert data and content_type.startswith(("image/", "video/"))
        # The provider's host allowed, the CDN it redirects to not: refused at the second hop.
        with pytest.raises(OutputError) as refused:
            await fetch_output(
                client,
                done.outputs[0],
                max_bytes=MAX_BYTES,
                allowed_types=ANY_MEDIA,
                allowed_hosts=output_hosts(family, {f"{family.upper()}_OUTPUT_HOSTS": "localhost"}),
                require_https=True,
            )
        assert refused.value.code == "bad_host" and CDN_HOST in refused.value.message


def test_bfl_results_on_its_azure_blob_storage_are_allowed_in_production() -> None:
    """BFL's own docs serve results from bfldeliveryprod.blob.core.windows.net: production must
    not refuse them after BFL has been paid; any other blob account stays refused."""
    from providers.http import host_matches

    hosts = output_hosts("bfl", {})
    assert host_matches("bfldeliveryprod.blob.core.windows.net", hosts)
    assert host_matches("delivery.eu4.bfl.ai", hosts)
    assert not host_matches("attacker.blob.core.windows.net", hosts)
    assert CATALOG["flux_2_pro"].family == "bfl"


async def test_estimate_cost_holds_flux_sizes_to_multiples_of_16() -> None:
    # estimateCost's width and height are the image's settings.width/height: the same rule applies,
    # else the estimate prices a job that generateImage refuses.
    q = "query ($i: EstimateCostInput!) { estimateCost(input: $i) { cents } }"
    bad = {"type": "IMAGE", "provider": "FLUX_2_PRO", "width": 1000, "height": 1024}
    response = await gql(q, {"i": bad})
    [error] = response["errors"]
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert "multiple of 16" in error["message"] and "1000" in error["message"]
    good = {"type": "IMAGE", "provider": "FLUX_2_PRO", "width": 1008, "height": 1024}
    assert (await gql(q, {"i": good}))["data"]["estimateCost"]["cents"] > 0
