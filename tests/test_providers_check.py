"""``python main.py admin providers check``: one read-only call per provider, against the simulator
in-process (function tests) and through the CLI (exit codes, table and JSON)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers import registry
from providers.catalog import CATALOG
from providers.http_adapter import HttpAdapter
from providers.simulator import SIMULATOR_BASE_PATHS, create_simulator_app
from services.provider_check import check_providers, problems_of, table
from services.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 30)
SIM = "http://sim/simulator"


@pytest.fixture
async def sim_client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Mount("/simulator", app=create_simulator_app(registry.SIMULATOR_API_KEY, 0))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        yield http


def dev_settings(**provider_env: str) -> Settings:
    return Settings(env="development", simulator_url=SIM, CH_PROVIDER_ENV=provider_env)


def adapter_of(provider: str, client: httpx.AsyncClient, key: str) -> HttpAdapter:
    module_name, class_name = registry.ADAPTERS[provider].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    built: HttpAdapter = cls(client, SIM + SIMULATOR_BASE_PATHS[CATALOG[provider].family], key)
    return built


async def test_every_provider_answers_its_check_call_in_the_simulator(sim_client: httpx.AsyncClient) -> None:
    reports = await check_providers(sim_client, dev_settings(), TODAY)
    assert {r.provider for r in reports} == set(CATALOG)
    for r in reports:
        assert r.ok, (r.provider, r.problems)
        assert r.simulated and not r.configured and r.reachable and r.key_accepted
        assert r.endpoint.startswith("GET /")
    by_name = {r.provider: r for r in reports}
    # Where the call lists models, the model we send is on the list; OpenAI reports its shutdown date.
    for provider in ("gpt_image_1_5", "openai_tts", "seedream_4_5", "runway_gen4", "veo_3_1", "elevenlabs"):
        assert by_name[provider].model_listed is True, provider
    assert by_name["gpt_image_1_5"].shutdown_date == "2026-12-01"
    # A day before its shutdown it still works, with a warning on every run.
    assert by_name["gpt_image_1_5"].warnings == (
        "gpt-image-1.5 shuts down on 2026-12-01 (in 1 day); its successor is gpt_image_2_6_sunburst",
    )
    # The successors are listed models of their own.
    for provider in ("gpt_image_2_6_sunburst", "gpt_image_2_6_flare"):
        assert by_name[provider].model_listed is True and by_name[provider].shutdown_date is None
    assert "gpt_image_1_5: warning: gpt-image-1.5 shuts down on 2026-12-01" in table(reports)
    assert by_name["openai_tts"].warnings == ()  # 2027-01-06 is more than 30 days away
    assert "gpt_image_1_5" in table(reports) and "2026-12-01" in table(reports)


async def test_a_refused_key_is_reported_for_every_family(sim_client: httpx.AsyncClient) -> None:
    for provider in CATALOG:
        result = await adapter_of(provider, sim_client, "wrong:key").check(provider)
        assert result.reachable, provider
        assert result.key_accepted is False, (provider, result)
        assert problems_of(result, None, TODAY)[0].startswith("key refused"), provider


async def test_a_model_past_its_shutdown_date_fails_the_check(sim_client: httpx.AsyncClient) -> None:
    # Under the refuse policy a job picking it is refused: that choice will not work.
    refuse = dev_settings().model_copy(update={"model_shutdown_policy": "refuse"})
    reports = await check_providers(sim_client, refuse, dt.date(2026, 12, 1))
    image = next(r for r in reports if r.provider == "gpt_image_1_5")
    assert not image.ok
    assert "gpt-image-1.5 was shut down on 2026-12-01" in image.problems


async def test_a_shut_down_model_whose_jobs_run_on_its_successor_only_warns(
    sim_client: httpx.AsyncClient,
) -> None:
    # The daily check must not stay red for ever once gpt-image-1.5 is gone: its jobs run on
    # gpt_image_2_6_sunburst, which is checked on its own row.
    reports = await check_providers(sim_client, dev_settings(), dt.date(2026, 12, 2))
    by_name = {r.provider: r for r in reports}
    image = by_name["gpt_image_1_5"]
    assert image.ok, image.problems
    assert image.warnings == (
        "gpt-image-1.5 was shut down on 2026-12-01; its jobs run on gpt_image_2_6_sunburst "
        "(gpt-image-2.6-sunburst)",
    )
    assert by_name["gpt_image_2_6_sunburst"].ok and by_name["gpt_image_2_6_sunburst"].model_listed


async def test_a_model_the_provider_no_longer_lists_fails_the_check(sim_client: httpx.AsyncClient) -> None:
    # The model checked is the one jobs are sent with: CH_PROVIDER_MODELS's when it replaces the catalogue's.
    settings = dev_settings().model_copy(update={"provider_models": {"gpt_image_1_5": "gpt-image-0-retired"}})
    reports = await check_providers(sim_client, settings, TODAY)
    result = next(r for r in reports if r.provider == "gpt_image_1_5")
    assert result.reachable and result.key_accepted and result.model_listed is False
    assert result.problems == ("model not listed by the provider: gpt-image-0-retired",)


async def test_past_its_shutdown_openai_no_longer_lists_the_model(sim_client: httpx.AsyncClient) -> None:
    adapter = adapter_of("gpt_image_1_5", sim_client, registry.SIMULATOR_API_KEY)
    sim_day = "providers.simulator.openai.today"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sim_day, lambda sim: dt.date(2026, 12, 1))
        result = await adapter.check("gpt_image_1_5")
        listed = (
            await sim_client.get(
                f"{SIM}/openai/v1/models", headers={"Authorization": "Bearer " + registry.SIMULATOR_API_KEY}
            )
        ).json()
    assert result.reachable and result.key_accepted and result.model_listed is False
    assert "gpt-image-1.5" not in {m["id"] for m in listed["data"]}
    assert "gpt-image-2.6-sunburst" in {m["id"] for m in listed["data"]}


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL", "_ACCESS_KEY", "_SECRET_KEY"))
    }
    clean = {k: v for k, v in clean.items() if not k.startswith("CH_")}
    return subprocess.run(
        [sys.executable, "main.py", "admin", "providers", "check", *args],
        cwd=ROOT,
        env={**clean, "CH_ENV": "development", "CH_TODAY": TODAY.isoformat(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_without_keys_checks_the_simulator_and_exits_0() -> None:
    done = run_cli("--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert {p["provider"] for p in report["providers"]} == set(CATALOG)
    assert all(p["simulated"] and p["ok"] for p in report["providers"])


def test_cli_exits_1_when_a_configured_provider_cannot_be_reached() -> None:
    # A real key for BFL pointing at a port nobody listens on; the others stay on the simulator.
    done = run_cli(BFL_API_KEY="bfl-key", BFL_BASE_URL="http://127.0.0.1:9")
    assert done.returncode == 1, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("flux_2_pro "))
    assert "provider" in row and "FAIL" in row
    assert "flux_2_pro: not reachable" in done.stdout
    assert next(line for line in done.stdout.splitlines() if line.startswith("heygen ")).endswith("ok")
