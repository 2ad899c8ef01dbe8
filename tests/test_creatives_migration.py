"""Migration 0009 (creatives) on SQLite and PostgreSQL: a database as the migration before it left
it, with a team and a job, is migrated; the creative table is there as the model says, and the
jobs of before read as jobs of no creative."""

from __future__ import annotations

import uuid

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from models import creatives
from models.creatives import Creative
from models.jobs import CreativeJob
from services import db
from services.settings import Settings
from tests.test_drive_migration import settings  # noqa: F401  (the fixture: both databases)

BEFORE = "models.0008_job_progress"


async def test_0009_adds_creatives(settings: Settings) -> None:  # noqa: F811
    config = db.tortoise_config(settings)
    await migrate(config=config, target=BEFORE)
    await Tortoise.close_connections()
    team, job = uuid.uuid4(), uuid.uuid4()
    await Tortoise.init(config=config)
    conn = connections.get("default")
    await conn.execute_script(
        f"INSERT INTO team (id, name, balance_cents, available_cents, low_balance_alerted, created_at) "
        f"VALUES ('{team}', 't', 0, 0, false, CURRENT_TIMESTAMP)"
    )
    await conn.execute_script(
        "INSERT INTO creative_job (id, team_id, user_id, type, status, provider, settings, result_urls, "
        "cost_cents, estimated_cost_cents, overrun_cents, metadata, version, provider_state, attempts, "
        f"created_at, updated_at) VALUES ('{job}', '{team}', '{team}', 'tts', 'pending', 'openai_tts', "
        "'{}', '[]', 0, 1, 0, '{}', 1, '{}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    await Tortoise.close_connections()

    await db.migrate(settings)
    await db.init(settings)
    try:
        old = await CreativeJob.get(id=job)
        assert not creatives.is_waiting(old) and "creative" not in old.metadata
        made = await Creative.create(
            team_id=team,
            user_id=team,
            recipe="VIDEO_WITH_VOICEOVER",
            nodes=[{"key": "v", "job_id": str(job), "type": "tts", "depends_on": [], "refs": []}],
            estimated_cost_cents=1,
        )
        again = await creatives.get_for_team(team, str(made.id))
        assert again is not None and again.job_ids() == [str(job)] and again.recipe == "VIDEO_WITH_VOICEOVER"
        assert await creatives.get_for_team(uuid.uuid4(), str(made.id)) is None
    finally:
        await db.close()
