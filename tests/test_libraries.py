"""Libraries: the adapters list HeyGen's avatars and voices, ElevenLabs' and OpenAI's voices against
the simulator over real HTTP (every page followed), and the rules that check ids against them
(models/library.py) as functions."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from models.errors import DomainError, ErrorCode
from models.library import LibraryUnavailable, check_avatar, check_voice, filter_voices, voice_for_locale
from providers import registry
from providers.elevenlabs import ElevenLabsAdapter
from providers.errors import ProviderSetupError
from providers.heygen import HeygenAdapter
from providers.library import Avatar, Voice, language_code
from providers.openai import OpenAITtsAdapter
from providers.simulator import library as sim_library
from services.settings import Settings
from tests.media import check_output
from tests.sim_harness import make_adapter, serve_simulator

API_KEY = "sim-library-key"


@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    with serve_simulator(API_KEY, 0.0) as root:
        yield root


async def _stats(root: str) -> dict[str, int]:
    async with httpx.AsyncClient() as client:
        reads: dict[str, int] = (await client.get(f"{root}/_sim/stats")).json()["library_reads"]
        return reads


async def test_heygen_avatars_every_page_and_only_ready_looks(sim_root: str) -> None:
    before = await _stats(sim_root)
    async with httpx.AsyncClient() as client:
        heygen = make_adapter(HeygenAdapter, sim_root, client, API_KEY)
        avatars = await heygen.list_avatars()
    looks = sim_library.heygen_looks()
    ready = [look for look in looks if look["status"] in (None, "completed")]
    assert len(looks) > HeygenAdapter.avatars_page_size  # more than a page: next_token was followed
    assert [a.id for a in avatars] == [look["id"] for look in ready]
    daisy = next(a for a in avatars if a.id == "Daisy-inskirt-20220818")
    assert daisy.gender == "female" and daisy.avatar_type == "studio_avatar"
    assert daisy.preview_image_url and daisy.preview_image_url.startswith(f"{sim_root}/_library/")
    assert daisy.preview_video_url and daisy.preview_video_url.endswith(".mp4")
    assert "twin_founder_02" not in {a.id for a in avatars}  # still training: not usable yet
    after = await _stats(sim_root)
    assert after.get("heygen:avatars", 0) - before.get("heygen:avatars", 0) == 2  # two pages of 50


async def test_heygen_voices_public_and_private_with_languages(
    sim_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HeygenAdapter, "voices_page_size", 10)  # several pages of each type
    async with httpx.AsyncClient() as client:
        voices = await make_adapter(HeygenAdapter, sim_root, client, API_KEY).list_voices()
    by_id = {v.id: v for v in voices}
    assert len(by_id) == len(sim_library.heygen_voices())
    paul = by_id["2d5b0e6cf36f460aa7fc47e3eee4ba54"]
    assert (paul.provider, paul.language, paul.gender, paul.category) == ("heygen", "en", "male", "public")
    assert paul.preview_url and paul.preview_url.endswith(".mp3")
    assert {v.language for v in voices} >= {"en", "es", "fr", "de", "ja", "zh", "pt"}
    assert [v.category for v in voices].count("private") == 1


async def test_elevenlabs_voices_pages_labels_and_verified_languages(
    sim_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ElevenLabsAdapter, "voices_page_size", 5)
    before = await _stats(sim_root)
    async with httpx.AsyncClient() as client:
        voices = await make_adapter(ElevenLabsAdapter, sim_root, client, API_KEY).list_voices()
    assert len(voices) == len(sim_library.eleven_voices()) == 22
    after = await _stats(sim_root)
    assert after["elevenlabs:voices"] - before.get("elevenlabs:voices", 0) == 5  # 22 voices, 5 a page
    george = next(v for v in voices if v.id == "JBFqnCBsd6RMkjVDRZzb")
    assert (george.name, george.gender, george.accent, george.language) == ("George", "male", "british", "en")
    assert george.locales == ("en-GB",) and george.multilingual and george.preview_url
    aria = next(v for v in voices if v.name == "Aria")
    assert aria.languages == ("en", "es", "fr") and "es-MX" in aria.locales


async def test_list_routes_are_as_strict_as_the_real_api(sim_root: str) -> None:
    async with httpx.AsyncClient() as client:
        heygen = f"{sim_root}/heygen/v3"
        no_key = await client.get(f"{heygen}/avatars/looks")
        assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "unauthorized"
        key = {"X-Api-Key": API_KEY}
        too_many = await client.get(f"{heygen}/avatars/looks", params={"limit": "51"}, headers=key)
        assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "limit"
        bad_token = await client.get(f"{heygen}/voices", params={"token": "nope"}, headers=key)
        assert bad_token.status_code == 400 and bad_token.json()["error"]["param"] == "token"
        first = (await client.get(f"{heygen}/voices", params={"limit": "100"}, headers=key)).json()
        assert first["has_more"] is False and first["next_token"] is None  # type defaults to public
        assert {v["type"] for v in first["data"]} == {"public"}
        eleven = f"{sim_root}/elevenlabs/v2/voices"
        wrong = await client.get(eleven, headers={"xi-api-key": "wrong"})
        assert wrong.status_code == 401 and wrong.json()["detail"]["status"] == "invalid_api_key"
        big = await client.get(eleven, params={"page_size": "101"}, headers={"xi-api-key": API_KEY})
        assert big.status_code == 422 and big.json()["detail"][0]["loc"] == ["query", "page_size"]
        default = (await client.get(eleven, headers={"xi-api-key": API_KEY})).json()
        assert len(default["voices"]) == 10 and default["has_more"] and default["total_count"] == 22


async def test_a_refused_key_is_a_setup_error(sim_root: str) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ProviderSetupError):
            await make_adapter(HeygenAdapter, sim_root, client, "wrong").list_avatars()
        with pytest.raises(ProviderSetupError):
            await make_adapter(ElevenLabsAdapter, sim_root, client, "wrong").list_voices()


async def test_openai_voices_are_the_documented_set_without_a_call() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no call is made for OpenAI's voices")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        voices = await OpenAITtsAdapter(client, "https://api.openai.com/v1", "k").list_voices()
    names = {v.id for v in voices}
    assert names == {
        "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage", "shimmer", "verse"
    }  # fmt: skip
    ballad = next(v for v in voices if v.id == "ballad")
    assert ballad.models == ("gpt-4o-mini-tts",) and ballad.multilingual
    assert "tts-1" in next(v for v in voices if v.id == "nova").models


async def test_the_simulators_previews_are_its_own_media_on_loopback(sim_root: str) -> None:
    """Under the simulator nothing a library lists is fetched from another host: every preview
    (HeyGen's looks and voices, ElevenLabs' voices, OpenAI's documented samples) is a URL of the
    simulator that answers real media of the right type; the real providers' URLs are untouched."""
    settings = Settings(env="development", simulator_url=sim_root)
    async with httpx.AsyncClient() as client:
        avatars = await make_adapter(HeygenAdapter, sim_root, client, API_KEY).list_avatars()
        heygen = await make_adapter(HeygenAdapter, sim_root, client, API_KEY).list_voices()
        eleven = await make_adapter(ElevenLabsAdapter, sim_root, client, API_KEY).list_voices()
        openai = registry.static_voices("openai_tts", settings)
        assert openai is not None
        images = [a.preview_image_url for a in avatars if a.preview_image_url]
        videos = [a.preview_video_url for a in avatars if a.preview_video_url]
        sounds = [v.preview_url for v in (*heygen, *eleven, *openai) if v.preview_url]
        assert len(images) == len(avatars) and len(videos) == len(avatars)
        assert len(sounds) == len(heygen) - 1 + len(eleven) + 6  # the clone and 7 new OpenAI voices: none
        for url in (*images, *videos, *sounds):
            assert url.startswith(f"{sim_root}/_library/"), url
            assert urlsplit(url).hostname == "127.0.0.1"
        wanted = {".webp": "image/webp", ".mp4": "video/mp4", ".mp3": "audio/mpeg", ".wav": "audio/wav"}
        for url in (*images, *videos[:3], *sounds):
            answer = await client.get(url)
            assert answer.status_code == 200, url
            content_type = answer.headers["content-type"].split(";")[0]
            assert content_type == wanted[url[url.rindex(".") :]], url
            check_output(content_type, answer.content)  # decodes: real media, not just bytes
        assert (await client.get(f"{sim_root}/_library/heygen/avatars/Nobody.webp")).status_code == 404
        assert (await client.get(f"{sim_root}/_library/elevenlabs/voices/nope.mp3")).status_code == 404
    # with a real key, OpenAI's own samples (the production URLs) whatever the simulator does
    real = Settings(env="development", provider_env={"OPENAI_API_KEY": "sk-real"})
    production = registry.static_voices("openai_tts", real)
    assert production is not None
    assert (
        next(v for v in production if v.id == "nova").preview_url
        == "https://cdn.openai.com/API/docs/audio/nova.wav"
    )


# -- the rules, as functions -----------------------------------------------------------------------


class FakeLookup:
    def __init__(
        self, avatars: list[Avatar], voices: dict[str, list[Voice]], down: set[str] = frozenset()
    ) -> None:  # type: ignore[assignment]
        self._avatars, self._voices, self.down = avatars, voices, down

    async def avatars(self, provider: str = "heygen", *, fresh: bool = False) -> list[Avatar]:
        if provider in self.down:
            raise LibraryUnavailable(provider, "avatars", "HeyGen answered 503")
        return self._avatars

    async def voices(self, provider: str, *, fresh: bool = False) -> list[Voice]:
        if provider in self.down:
            raise LibraryUnavailable(provider, "voices", "HeyGen answered 503")
        return self._voices.get(provider, [])

    async def cached_voices(self, provider: str) -> list[Voice] | None:
        return self._voices.get(provider)


LOOKUP = FakeLookup(
    [Avatar(id="Daisy-inskirt-20220818", name="Daisy")],
    {
        "heygen": [Voice(id="hg-es", provider="heygen", name="Lucía", languages=("es",))],
        "elevenlabs": [
            Voice(id="JBFqnCBsd6RMkjVDRZzb", provider="elevenlabs", name="George", languages=("en",))
        ],
        "openai_tts": [Voice(id="ballad", provider="openai_tts", name="Ballad", models=("gpt-4o-mini-tts",))],
    },
)


async def test_unknown_avatar_names_the_avatars_query() -> None:
    assert (await check_avatar(LOOKUP, "heygen", "Daisy-inskirt-20220818")).name == "Daisy"
    with pytest.raises(DomainError) as refused:
        await check_avatar(LOOKUP, "heygen", "Nobody")
    assert refused.value.code == ErrorCode.VALIDATION_FAILED and refused.value.field == ["input", "avatarId"]
    assert "see the avatars query" in refused.value.message


async def test_unknown_voice_and_another_providers_voice() -> None:
    with pytest.raises(DomainError) as unknown:
        await check_voice(LOOKUP, "heygen", "nope", ["voiceId"])
    assert unknown.value.field == ["input", "voiceId"] and "voices(provider: HEYGEN)" in unknown.value.message
    with pytest.raises(DomainError) as foreign:
        await check_voice(LOOKUP, "heygen", "JBFqnCBsd6RMkjVDRZzb", ["voiceId"])
    assert (
        "voice of ElevenLabs" in foreign.value.message and "voices(provider: HEYGEN)" in foreign.value.message
    )


async def test_an_openai_voice_of_another_model_and_an_unreadable_library() -> None:
    assert (await check_voice(LOOKUP, "openai_tts", "ballad", ["voiceId"], "gpt-4o-mini-tts")).id == "ballad"
    with pytest.raises(DomainError) as wrong_model:
        await check_voice(LOOKUP, "openai_tts", "ballad", ["voiceId"], "tts-1")
    assert "gpt-4o-mini-tts only, not tts-1" in wrong_model.value.message
    down = FakeLookup([], {}, down={"heygen"})
    with pytest.raises(DomainError) as unavailable:
        await check_voice(down, "heygen", "hg-es", ["voiceId"])
    assert unavailable.value.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert unavailable.value.field == ["input", "voiceId"] and "nothing was held" in unavailable.value.message


def test_language_filter_takes_codes_locales_and_names() -> None:
    assert [language_code(x) for x in ("English", "en-US", "pt_BR", "Chinese (Mandarin)", "", "12")] == [
        "en", "en", "pt", "zh", None, None
    ]  # fmt: skip
    voices = [
        Voice(id="mx", provider="elevenlabs", name="A", languages=("en", "es"), locales=("en-US", "es-MX")),
        Voice(id="es", provider="heygen", name="B", languages=("es",)),
        Voice(id="en", provider="heygen", name="C", languages=("en",), gender="male"),
        Voice(id="any", provider="openai_tts", name="D", multilingual=True),
    ]
    assert [v.id for v in filter_voices(voices, language="es")] == ["mx", "es", "any"]
    assert [v.id for v in filter_voices(voices, language="es-MX")] == ["mx", "es", "any"]
    assert [v.id for v in filter_voices(voices, language="es-ES")] == [
        "es",
        "any",
    ]  # mx is listed for es-MX only
    assert [v.id for v in filter_voices(voices, gender="MALE")] == ["en"]


async def test_a_voice_per_locale_and_a_locale_without_one() -> None:
    assert (await voice_for_locale(LOOKUP, "heygen", "es-MX", ["locales", "0"])).id == "hg-es"
    with pytest.raises(DomainError) as none:
        await voice_for_locale(LOOKUP, "heygen", "ja-JP", ["locales", "1"])
    assert none.value.field == ["input", "locales", "1"]
    assert (
        none.value.message == 'HeyGen has no voice for ja-JP; see voices(provider: HEYGEN, language: "ja-JP")'
    )
