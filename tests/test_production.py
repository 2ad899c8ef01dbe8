"""The production path, deployed as README's "Deploying" section says, and used.

``migrate``, ``admin create-team``, then ``serve`` and ``worker`` as separate processes with
``CH_ENV=production`` on PostgreSQL and Redis (tests/production.py), the providers reached over
https (the simulator standing in for them, as a real provider would be configured): a job of
every type runs to COMPLETED through GraphQL over HTTP and websockets, its output downloads
through its signed URL and the team is charged exactly. Also: ``dev`` is refused in production
before it creates anything, and the embedded Valkey of ``dev`` ends with it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from providers.catalog import CATALOG
from services import db
from services.settings import Settings
from tests.media import check_output
from tests.production import ProductionStack, production_stack
from tests.stack import ROOT, Stack, backend_env, follow_job, free_port
from tests.test_generation import COMPOSITE_SOURCE, balance, download, ledger, submit_ok


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionStack]:
    # An upload's check is waited for 5 s, not 30: the upload test asks while no worker runs.
    with production_stack(
        tmp_path_factory.mktemp("production"), CH_UPLOAD_CHECK_WAIT_SECONDS="5"
    ) as deployed:
        yield deployed


EXPECTED_TYPES = {
    "IMAGE": "image/",
    "VIDEO": "video/mp4",
    "AVATAR": "video/mp4",
    "TTS": "audio/",
    "COMPOSITE": "video/mp4",
}


async def test_a_job_of_every_type_runs_to_completed_on_the_production_deployment(
    prod: ProductionStack,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        ready = await client.get(f"{prod.url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": True, "redis": True}
    team = prod.create_team(5_000)
    assert await balance(prod, team) == {"balanceCents": 5_000, "availableCents": 5_000, "heldCents": 0}

    image = await submit_ok(
        prod, team, "image", {"prompt": "a bottle of olive oil on marble", "placement": "FEED"}
    )
    others = await asyncio.gather(
        submit_ok(
            prod, team, "video", {"prompt": "waves at dawn", "durationSeconds": 4, "aspectRatio": "9:16"}
        ),
        submit_ok(
            prod,
            team,
            "avatar",
            {
                "script": "Hello! Our spring sale starts today.",
                "avatarId": "Daisy-inskirt-20220818",
                "voiceId": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
            },
        ),
        submit_ok(prod, team, "tts", {"text": "Welcome to the spring sale.", "voiceId": "nova"}),
    )
    # Followed over websockets: the worker's status changes reach the API process through Redis.
    image_states = await follow_job(prod, team, image["id"])
    assert image_states[-1]["status"] == "COMPLETED", image_states[-1]
    composite = await submit_ok(
        prod,
        team,
        "composite",
        {"source": COMPOSITE_SOURCE, "inputs": [{"name": "Background", "jobId": image["id"]}]},
    )
    finals = [image_states[-1]]
    for job in [*others, composite]:
        states = await follow_job(prod, team, job["id"])
        finals.append(states[-1])

    assert sorted(j["type"] for j in finals) == sorted(EXPECTED_TYPES)
    for job in finals:
        assert job["status"] == "COMPLETED", job
        assert 0 < job["costCents"] <= job["estimatedCostCents"], job
        url = job["resultUrls"][0]
        assert url.startswith(f"{prod.url}/files/") and "signature=" in url, url
        content_type, data = await download(url)  # signed: no credentials sent
        assert content_type.startswith(EXPECTED_TYPES[job["type"]]), (job["type"], content_type)
        check_output(content_type, data)

    # Every job went to the configured provider endpoint (https, with the provider's key), not to
    # a built-in simulator: production has none.
    stats = prod.sim_stats()
    assert {CATALOG[j["provider"].lower()].family for j in finals} <= set(stats["attempts"]), stats[
        "attempts"
    ]

    total = sum(j["costCents"] for j in finals)
    after = await balance(prod, team)
    assert after == {"balanceCents": 5_000 - total, "availableCents": 5_000 - total, "heldCents": 0}
    captures = {r["jobId"]: r["amountCents"] for r in await ledger(prod, team) if r["kind"] == "CAPTURE"}
    assert captures == {j["id"]: j["costCents"] for j in finals}
    audit = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "admin", "audit-ledger", cwd=ROOT, env=prod.env, stdout=subprocess.PIPE
    )
    report, _ = await asyncio.wait_for(audit.communicate(), 60)
    assert audit.returncode == 0 and json.loads(report)["ok"] is True, report[-2000:]
    assert all(w.poll() is None for w in prod.workers) and prod.proc and prod.proc.poll() is None


async def test_the_database_opened_in_one_task_serves_every_other_task(tmp_path: Path) -> None:
    """serve opens the database in the ASGI lifespan task and the worker in arq's start-up; the
    requests and jobs run in other tasks. (tortoise keeps its state in a contextvar: before the
    fix every request answered 500 'No TortoiseContext is currently active'.)"""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite://{tmp_path / 'db.sqlite3'}")

    async def open_elsewhere() -> None:
        await db.init(settings)

    await asyncio.create_task(open_elsewhere())
    try:
        assert await db.ping()
        # Opened again from another task without closing first (a worker restarted after losing
        # Redis never ran its shutdown): one database for the process, still reachable.
        await asyncio.create_task(open_elsewhere())
        assert await asyncio.create_task(db.ping())
    finally:
        await db.close()


async def _team_count(database_url: str) -> int:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM team"))
    finally:
        await conn.close()


def test_dev_is_refused_in_production_before_anything_is_created(
    prod: ProductionStack, tmp_path: Path
) -> None:
    teams_before = asyncio.run(_team_count(prod.database_url))
    data_dir = tmp_path / "dev-data"
    env = {**prod.env, "CH_DATA_DIR": str(data_dir), "CH_PORT": str(free_port())}
    out = subprocess.run(
        [sys.executable, "main.py", "dev"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "python main.py dev is for development" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert asyncio.run(_team_count(prod.database_url)) == teams_before  # no demo team
    assert not data_dir.exists()  # nothing written either


# -- the embedded Valkey of `dev` ---------------------------------------------------------------
def _valkey_children(pid: int) -> list[int]:
    """The valkey-server processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == pid and comm.startswith("valkey"):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"  # a zombie has ended


def _wait_gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


class DevRuns:
    """``python main.py dev`` on SQLite with its embedded Valkey (no CH_REDIS_URL), started as
    often as a test needs on one data dir; a Valkey a failing test leaves behind is killed at the
    end, by the pid seen while its ``dev`` ran."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", None)
        self.valkeys: list[int] = []

    def start(self) -> tuple[Stack, int]:
        stack = Stack(
            env=self.env, url=f"http://127.0.0.1:{self.env['CH_PORT']}", log_path=self.tmp / "dev.log"
        )
        stack.start()
        assert stack.proc is not None
        [valkey] = _valkey_children(stack.proc.pid)
        self.valkeys.append(valkey)
        return stack, valkey


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevRuns]:
    if not Path("/proc/self/stat").exists():
        pytest.skip("finding the Valkey process needs Linux /proc")
    runs = DevRuns(tmp_path)
    yield runs
    for pid in runs.valkeys:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_sigterm_to_dev_stops_its_embedded_valkey(dev: DevRuns) -> None:
    stack, valkey = dev.start()
    assert stack.proc is not None
    stack.proc.send_signal(signal.SIGTERM)
    stack.proc.wait(30)
    assert _wait_gone(valkey), f"valkey {valkey} still runs after dev ended:\n{stack.log_tail()}"


def test_the_next_dev_start_stops_a_valkey_left_running_on_its_data(dev: DevRuns) -> None:
    crashed, stale = dev.start()
    assert crashed.proc is not None
    crashed.proc.kill()  # no chance to clean up: its Valkey is left running on the data dir
    crashed.proc.wait(10)
    assert _alive(stale)

    again, valkey = dev.start()
    try:
        assert valkey != stale
        assert not _alive(stale), "the stale Valkey was not stopped before a new one started"
    finally:
        again.stop()
    assert _wait_gone(valkey)


async def test_providers_check_on_the_production_deployment(prod: ProductionStack) -> None:
    """``admin providers check`` as an operator runs it: the configured providers over https with
    their keys; a provider without a key is skipped, not failed; a refused key exits 1."""

    async def check(**changes: str | None) -> tuple[int, dict[str, object]]:
        env = {k: v for k, v in {**prod.env, **changes}.items() if v is not None}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "main.py", "admin", "providers", "check", "--json",
            cwd=ROOT, env=env, stdout=subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, json.loads(out)

    code, report = await check(HEYGEN_API_KEY=None)
    assert code == 0 and report["ok"] is True, report
    rows = {row["provider"]: row for row in report["providers"]}
    assert set(rows) == set(CATALOG)
    assert rows["heygen"]["configured"] is False and rows["heygen"]["simulated"] is False
    for provider, row in rows.items():
        if provider != "heygen":
            assert row["configured"] and row["reachable"] and row["key_accepted"], row

    code, report = await check(BFL_API_KEY="not-the-key")
    flux = next(row for row in report["providers"] if row["provider"] == "flux_2_pro")
    assert code == 1 and flux["key_accepted"] is False and not flux["ok"], flux


async def test_uploads_are_checked_by_the_worker_and_answer_in_progress_without_one(
    prod: ProductionStack,
) -> None:
    """The API process never checks an upload's content: with no worker running, uploadDriveFile
    stores the bytes and answers IN_PROGRESS naming the upload; once a worker runs, completeUpload
    answers the checked file. A mistaken createUpload is cancelled by deleteDriveFile."""
    from tests.standins import media as make
    from tests.test_uploads import COMPLETE, CREATE, multipart

    team = prod.create_team(0, via_cli=False)
    png = make.image("png", 320, 200)
    prod.stop_workers()
    try:
        answer = (await multipart(prod, team, png, "logo.png", "image/png")).json()["data"]["uploadDriveFile"]
        [error] = answer["userErrors"]
        assert answer["file"] is None and (error["code"], error["field"]) == ("IN_PROGRESS", ["file"]), error
        file_id = error["message"].split()[1]  # "upload <id> is still being checked; call completeUpload ..."
        assert f'completeUpload(fileId: "{file_id}")' in error["message"]
        again = (await prod.data(team, COMPLETE, {"id": file_id}))["completeUpload"]
        assert again["userErrors"][0]["code"] == "IN_PROGRESS"
    finally:
        prod.start_workers()
    async with asyncio.timeout(60):
        while True:
            done = (await prod.data(team, COMPLETE, {"id": file_id}))["completeUpload"]
            if done["file"] is not None or done["userErrors"][0]["code"] != "IN_PROGRESS":
                break
    assert done["userErrors"] == [], done
    assert (done["file"]["id"], done["file"]["width"], done["file"]["height"]) == (file_id, 320, 200)
    assert done["file"]["thumbnailUrl"]

    mistaken = (
        await prod.data(
            team, CREATE, {"input": {"name": "huge.mp4", "contentType": "video/mp4", "sizeBytes": 10**9}}
        )
    )["createUpload"]["upload"]
    deleted = await prod.data(
        team, "mutation ($id: ID!) { deleteDriveFile(id: $id) { deletedFiles freedBytes userErrors { code } } }",
        {"id": mistaken["fileId"]},
    )  # fmt: skip
    assert deleted["deleteDriveFile"] == {"deletedFiles": 1, "freedBytes": 10**9, "userErrors": []}
    usage = await prod.data(team, "{ driveUsage { usedBytes } }")
    assert usage["driveUsage"]["usedBytes"] == len(png)
