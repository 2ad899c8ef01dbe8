"""Migration 0006 (the Drive tree) on SQLite and PostgreSQL: a database as 0005 left it, with a team,
its default folder and two outputs named as before, is migrated; the folder is top-level, the files
know their kind and position, the team's usage is their sum, and the models match the schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate

from models import drive
from models.drive import DriveFile, DriveFolder, FileKind, FileSource, FileStatus
from models.errors import DomainError, ErrorCode
from models.teams import Team
from services import db
from services.settings import Settings
from tests.conftest import POSTGRES_URL, _admin_pg


@pytest.fixture(params=["sqlite", "postgres"])
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    # tortoise caches insert statements by connection name, not dialect: both backends use "default".
    EXECUTOR_CACHE.clear()
    if request.param == "sqlite":
        yield Settings(
            env="development", data_dir=tmp_path, database_url=f"sqlite://{tmp_path / 'm.sqlite3'}"
        )
        return
    name = f"ch_test_{uuid.uuid4().hex[:10]}"
    try:
        await _admin_pg(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError, TimeoutError):
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    try:
        yield Settings(
            env="development", data_dir=tmp_path, database_url=POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        )
    finally:
        await _admin_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_0006_migrates_a_drive_of_0005(settings: Settings) -> None:
    config = db.tortoise_config(settings)
    await migrate(config=config, target="models.0005_user_tokens_valid_after")
    await Tortoise.close_connections()
    team, folder, job = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    files = [(uuid.uuid4(), f"{job}-{n}.mp4", "video/mp4", 1000 * n) for n in (2, 1)]
    files.append((uuid.uuid4(), "voice.mp3", "audio/mpeg", 7))
    await Tortoise.init(config=config)
    conn = connections.get("default")
    await conn.execute_script(
        f"INSERT INTO team (id, name, balance_cents, available_cents, low_balance_alerted, created_at) "
        f"VALUES ('{team}', 't', 0, 0, false, CURRENT_TIMESTAMP)"
    )
    await conn.execute_script(
        f"INSERT INTO drive_folder (id, team_id, name, is_default, default_of, created_at) "
        f"VALUES ('{folder}', '{team}', 'AI Generations', true, '{team}', CURRENT_TIMESTAMP)"
    )
    for fid, name, ctype, size in files:
        owner = f"'{job}'" if name.startswith(str(job)) else "NULL"
        await conn.execute_script(
            "INSERT INTO drive_file (id, team_id, folder_id, job_id, name, content_type, size_bytes, storage_key, "
            f"created_at) VALUES ('{fid}', '{team}', '{folder}', {owner}, '{name}', '{ctype}', {size}, 'k/{name}', "
            "CURRENT_TIMESTAMP)"
        )
    await Tortoise.close_connections()

    await db.migrate(settings)
    await db.init(settings)
    try:
        migrated = await DriveFolder.get(id=folder)
        assert migrated.parent_id is None and migrated.scope_id == team
        assert (await drive.default_folder(team)).id == folder
        rows = {f.name: f for f in await DriveFile.filter(team_id=team)}
        assert rows[f"{job}-1.mp4"].job_index == 0 and rows[f"{job}-2.mp4"].job_index == 1
        assert rows["voice.mp3"].kind == FileKind.AUDIO and rows["voice.mp3"].job_index is None
        assert {f.kind for n, f in rows.items() if n.endswith(".mp4")} == {FileKind.VIDEO}
        assert {(f.status, f.source) for f in rows.values()} == {(FileStatus.READY, FileSource.GENERATED)}
        assert (await Team.get(id=team)).drive_bytes == 3007
        assert (await drive.usage(team, 10_000)).used_bytes == 3007
        # The schema is what the models say: a sibling of the same name is refused by the database.
        sub = await drive.create_folder(team, "Shots")
        await drive.create_folder(team, "Shots", parent_id=sub.id)  # a child may share its parent's name
        with pytest.raises(DomainError) as refused:
            await drive.create_folder(team, "Shots")
        assert refused.value.code == ErrorCode.CONFLICT
    finally:
        await db.close()
