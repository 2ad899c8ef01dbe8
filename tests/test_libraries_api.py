"""Libraries through the real API: the avatars and voices queries, the Redis cache (a second read
within CH_LIBRARY_CACHE_SECONDS never reaches the provider: the simulator counts its reads), and
generate requests refused on an unknown or foreign avatarId/voiceId with nothing held; and the cache
itself against a provider that goes away (a stale copy serves; none at all refuses)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from models.errors import DomainError
from models.library import LibraryUnavailable, check_voice
from providers.registry import SIMULATOR_API_KEY
from services.library import Libraries
from services.settings import Settings
from tests.conftest import REDIS_URL
from tests.sim_harness import serve_simulator
from tests.stack import Stack, Team
from tests.standins import media as make
from tests.test_generation import balance, generate, submit_ok, upload_to_drive

AVATARS = "query ($gender: String) { avatars(gender: $gender) { id provider name gender previewImageUrl previewVideoUrl avatarType defaultVoiceId } }"
VOICES = """query ($provider: Provider!, $language: String, $gender: String) {
  voices(provider: $provider, language: $language, gender: $gender) {
    id provider name language languages locales multilingual gender accent previewUrl models category
  }
}"""
DAISY = "Daisy-inskirt-20220818"
PAUL = "2d5b0e6cf36f460aa7fc47e3eee4ba54"  # a HeyGen voice
GEORGE = "JBFqnCBsd6RMkjVDRZzb"  # an ElevenLabs voice


async def _forget(stack: Stack, provider: str) -> None:
    client = aioredis.Redis.from_url(stack.env["CH_REDIS_URL"])
    try:
        await client.delete(
            *(f"{stack.env['CH_QUEUE_NAME']}:library:{provider}:{k}" for k in ("avatars", "voices"))
        )
    finally:
        await client.aclose()


def _reads(stack: Stack, key: str) -> int:
    return int(stack.sim_stats().get("library_reads", {}).get(key, 0))


async def test_avatars_and_voices_queries(stack: Stack, team: Team) -> None:
    avatars = (await stack.data(team, AVATARS))["avatars"]
    daisy = next(a for a in avatars if a["id"] == DAISY)
    assert daisy["provider"] == "HEYGEN" and daisy["gender"] == "female"
    assert daisy["previewImageUrl"].startswith(f"{stack.simulator_url}/_library/")  # nothing from outside
    assert daisy["previewVideoUrl"].endswith(".mp4")
    assert daisy["avatarType"] == "studio_avatar" and daisy["defaultVoiceId"]
    assert len(avatars) > 50  # every page of HeyGen's listing
    males = (await stack.data(team, AVATARS, {"gender": "male"}))["avatars"]
    assert males and {a["gender"] for a in males} == {"male"}

    spanish = (await stack.data(team, VOICES, {"provider": "HEYGEN", "language": "es"}))["voices"]
    assert spanish and {v["language"] for v in spanish} == {"es"} and all(v["previewUrl"] for v in spanish)
    eleven = (await stack.data(team, VOICES, {"provider": "ELEVENLABS", "language": "es-MX"}))["voices"]
    assert eleven[0]["name"] == "Aria" and "es-MX" in eleven[0]["locales"]  # listed for es-MX first
    assert all(v["multilingual"] for v in eleven) and len(eleven) == 22  # then every multilingual voice
    openai = (await stack.data(team, VOICES, {"provider": "OPENAI_TTS"}))["voices"]
    assert {v["id"] for v in openai} >= {"alloy", "nova", "marin", "cedar"}
    assert next(v for v in openai if v["id"] == "marin")["models"] == ["gpt-4o-mini-tts"]

    wrong = await stack.gql(team, VOICES, {"provider": "FLUX_2_PRO"})
    assert wrong["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert "HEYGEN, ELEVENLABS, OPENAI_TTS" in wrong["errors"][0]["message"]
    bad_language = await stack.gql(team, VOICES, {"provider": "HEYGEN", "language": "??"})
    assert bad_language["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    anonymous = await stack.gql(None, AVATARS)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_second_read_within_the_ttl_does_not_reach_the_provider(stack: Stack, team: Team) -> None:
    await _forget(stack, "heygen")
    before = _reads(stack, "heygen:voices")
    first = (await stack.data(team, VOICES, {"provider": "HEYGEN"}))["voices"]
    after_first = _reads(stack, "heygen:voices")
    assert after_first - before == 2  # public and private, one page each
    second = (await stack.data(team, VOICES, {"provider": "HEYGEN", "gender": "female"}))["voices"]
    job = await submit_ok(stack, team, "avatar", {"script": "Hi there", "avatarId": DAISY, "voiceId": PAUL})
    assert job["settings"]["voice_id"] == PAUL
    assert _reads(stack, "heygen:voices") == after_first  # the query and the validation read the cache
    assert {v["id"] for v in second} < {v["id"] for v in first}


@pytest.mark.parametrize(
    ("kind", "input", "field", "says"),
    [
        ("avatar", {"avatarId": "Nobody-20990101", "voiceId": PAUL}, "avatarId", "see the avatars query"),
        ("avatar", {"avatarId": DAISY, "voiceId": "not-a-voice"}, "voiceId", "voices(provider: HEYGEN)"),
        ("avatar", {"avatarId": DAISY, "voiceId": GEORGE}, "voiceId", "voice of ElevenLabs"),
        ("tts", {"provider": "ELEVENLABS", "voiceId": PAUL}, "voiceId", "voices(provider: ELEVENLABS)"),
        ("tts", {"provider": "OPENAI_TTS", "voiceId": "marin"}, "voiceId", "gpt-4o-mini-tts only"),
        ("tts", {"provider": "OPENAI_TTS", "voiceId": "George"}, "voiceId", "voices(provider: OPENAI_TTS)"),
        (
            "tts",
            {"provider": "ELEVENLABS", "settings": {"voice_id": "abc"}},
            "settings",
            "voices(provider: ELEVENLABS)",
        ),
    ],
)
async def test_unknown_and_foreign_ids_are_refused_with_nothing_held(
    stack: Stack, team: Team, kind: str, input: dict[str, Any], field: str, says: str
) -> None:
    text = {"avatar": "script", "tts": "text"}[kind]
    # the ElevenLabs library is read first so its voices are known when a HeyGen job names one
    await stack.data(team, VOICES, {"provider": "ELEVENLABS"})
    before = await balance(stack, team)
    payload = await generate(stack, team, kind, {text: "Spring sale starts today", **input})
    assert payload["job"] is None
    (error,) = payload["userErrors"]
    assert error["code"] == "VALIDATION_FAILED" and error["field"][:2] == ["input", field], error
    assert says in error["message"], error["message"]
    assert await balance(stack, team) == before


async def test_library_ids_are_accepted_and_a_portrait_needs_no_avatar(stack: Stack, team: Team) -> None:
    tts = await submit_ok(stack, team, "tts", {"text": "Hola", "provider": "ELEVENLABS", "voiceId": GEORGE})
    assert tts["settings"]["voice_id"] == GEORGE
    hd = await submit_ok(
        stack,
        team,
        "tts",
        {
            "text": "Hi",
            "provider": "OPENAI_TTS",
            "voiceId": "marin",
            "settings": {"model": "gpt-4o-mini-tts"},
        },
    )
    assert hd["settings"]["voice_id"] == "marin"


# -- the cache against a provider that goes away ---------------------------------------------------


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(f"{REDIS_URL.rstrip('/')}/13")
    try:
        await client.ping()
    except Exception:
        pytest.skip("Redis is not reachable")
    yield client
    await client.aclose()


def _settings(tmp_path: Path, simulator_url: str, queue: str, cache_seconds: int) -> Settings:
    return Settings(
        env="development",
        data_dir=tmp_path,
        simulator_url=simulator_url,
        queue_name=queue,
        library_cache_seconds=cache_seconds,
    )


async def test_a_stale_copy_serves_while_the_provider_is_down_and_none_refuses(
    tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    queue = f"creative_hub:test:libraries:{tmp_path.name}"
    dead = "http://127.0.0.1:9/simulator"  # nothing listens on the discard port
    async with httpx.AsyncClient() as http:
        nothing = Libraries(redis_client, http, _settings(tmp_path, dead, queue, 3600))
        with pytest.raises(LibraryUnavailable) as down:
            await nothing.voices("heygen")
        assert down.value.provider == "heygen" and down.value.kind == "voices"
        assert down.value.reason == "the provider could not be reached or answered with an error"
        assert await nothing.cached_voices("heygen") is None
        with serve_simulator(SIMULATOR_API_KEY, 0.0) as root:
            live = Libraries(redis_client, http, _settings(tmp_path, root, queue, 0))
            fresh = await live.voices("heygen")
            assert any(v.id == PAUL for v in fresh)
        # cache TTL 0: every read asks the provider; it is gone, so the last copy serves
        gone = Libraries(redis_client, http, _settings(tmp_path, dead, queue, 0))
        assert [v.id for v in await gone.voices("heygen")] == [v.id for v in fresh]
        stale = _settings(tmp_path, dead, queue, 0).model_copy(update={"library_stale_seconds": 0})
        with pytest.raises(LibraryUnavailable):
            await Libraries(redis_client, http, stale).voices("heygen")  # too old to serve
        assert {v.id for v in await gone.voices("openai_tts")} >= {"alloy"}  # OpenAI's need no call
        await gone.forget()


async def test_rest_and_a_photo_avatar_check_the_voice_too(stack: Stack, team: Team) -> None:
    portrait = upload_to_drive(stack, team, "me.png", make.image("png", 400, 500))
    before = await balance(stack, team)
    async with httpx.AsyncClient(timeout=30, headers=team.headers) as client:
        refused = await client.post(
            f"{stack.url}/api/v1/creative-hub/generate/avatar",
            json={"script": "Hello from the shop", "portrait_file_id": portrait, "voice_id": GEORGE},
        )
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["code"] == "VALIDATION_FAILED" and error["field"] == ["input", "voiceId"]
        assert "voices(provider: HEYGEN)" in error["message"]
        unknown_avatar = await client.post(
            f"{stack.url}/api/v1/creative-hub/generate/avatar",
            json={"script": "Hello", "avatar_id": "nobody", "voice_id": PAUL},
        )
        assert (
            unknown_avatar.status_code == 400 and "avatars query" in unknown_avatar.json()["error"]["message"]
        )
    assert await balance(stack, team) == before
    photo = await submit_ok(
        stack, team, "avatar", {"script": "Hi", "portraitFileId": portrait, "voiceId": PAUL}
    )
    assert photo["settings"]["portrait_file_id"] == portrait and photo["settings"]["avatar_id"] is None


async def test_an_id_missing_from_the_copy_reads_the_library_again_at_most_once_a_minute(
    tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    queue = f"creative_hub:test:libraries-miss:{tmp_path.name}"
    with serve_simulator(SIMULATOR_API_KEY, 0.0) as root:

        def reads() -> int:
            return int(httpx.get(f"{root}/_sim/stats").json()["library_reads"].get("heygen:voices", 0))

        async with httpx.AsyncClient() as http:
            libraries = Libraries(redis_client, http, _settings(tmp_path, root, queue, 3600))
            now = [1_000_000.0]
            libraries.clock = lambda: now[0]
            await check_voice(libraries, "heygen", PAUL, ["voiceId"])
            assert reads() == 2  # public and private
            with pytest.raises(DomainError):  # the copy is seconds old: refused without a read
                await check_voice(libraries, "heygen", "cloned-a-minute-ago", ["voiceId"])
            assert reads() == 2
            now[0] += 61  # past a minute (well inside the hour's TTL): a miss reads again, once
            with pytest.raises(DomainError):
                await check_voice(libraries, "heygen", "cloned-a-minute-ago", ["voiceId"])
            assert reads() == 4
            with pytest.raises(DomainError):
                await check_voice(libraries, "heygen", "another-unknown", ["voiceId"])
            await check_voice(libraries, "heygen", PAUL, ["voiceId"])
            assert reads() == 4
            await libraries.forget()


async def test_a_cached_copy_is_parsed_once_not_at_every_validation(
    tmp_path: Path, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from providers.library import Voice

    queue = f"creative_hub:test:libraries-parse:{tmp_path.name}"
    parsed = [0]
    original = Voice.from_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Voice], data: dict[str, Any]) -> Voice:
        parsed[0] += 1
        return original(cls, data)  # type: ignore[no-any-return]

    monkeypatch.setattr(Voice, "from_json", classmethod(counting))
    with serve_simulator(SIMULATOR_API_KEY, 0.0) as root:
        async with httpx.AsyncClient() as http:
            libraries = Libraries(redis_client, http, _settings(tmp_path, root, queue, 3600))
            try:
                first = await check_voice(libraries, "heygen", PAUL, ["voiceId"])
                once = parsed[0]
                assert once > 0
                for _ in range(5):  # every validation of the same cached copy: no parse
                    assert await check_voice(libraries, "heygen", PAUL, ["voiceId"]) == first
                assert parsed[0] == once
                # Another process's copy (here: a second instance reading the same Redis key) is
                # parsed once too, then served from its own memory.
                other = Libraries(redis_client, http, _settings(tmp_path, root, queue, 3600))
                for _ in range(3):
                    await check_voice(other, "heygen", PAUL, ["voiceId"])
                assert parsed[0] == 2 * once == 2 * len(await other.voices("heygen"))
            finally:
                await libraries.forget()
