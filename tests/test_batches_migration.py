"""Migration 0010 (batches, ratings, the caller's reference) on SQLite and PostgreSQL: a job as 0009
left it is migrated untouched (no batch, no rating, no reference) and reads as before; the new
table and columns take what the models write, and the jobs of a batch are found by it."""

from __future__ import annotations

import uuid

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from models.batches import Batch
from models.jobs import CreativeJob, JobStatus
from services import db
from services.settings import Settings
from tests.test_drive_migration import settings  # noqa: F401  # the fixture: both databases


async def test_0010_keeps_a_job_of_0009(settings: Settings) -> None:  # noqa: F811
    config = db.tortoise_config(settings)
    await migrate(config=config, target="models.0009_creatives")
    await Tortoise.close_connections()
    team, job, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await Tortoise.init(config=config)
    conn = connections.get("default")
    await conn.execute_script(
        f"INSERT INTO team (id, name, balance_cents, available_cents, low_balance_alerted, drive_bytes, "
        f"created_at) VALUES ('{team}', 't', 0, 0, false, 0, CURRENT_TIMESTAMP)"
    )
    await conn.execute_script(
        "INSERT INTO creative_job (id, team_id, user_id, type, status, provider, settings, result_urls, "
        "cost_cents, estimated_cost_cents, overrun_cents, metadata, version, provider_state, attempts, "
        f"created_at, updated_at) VALUES ('{job}', '{team}', '{user}', 'image', 'completed', 'flux_2_pro', "
        "'{}', '[]', 3, 4, 0, '{}', 2, '{}', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    await Tortoise.close_connections()

    await db.migrate(settings)
    await db.init(settings)
    try:
        old = await CreativeJob.get(id=job)
        assert old.status == JobStatus.COMPLETED and old.cost_cents == 3 and old.version == 2
        assert (old.batch_id, old.rating, old.client_reference, old.client_metadata) == (
            None,
            None,
            None,
            None,
        )
        snap = old.snapshot()
        assert snap["batch_id"] is None and snap["client_metadata"] is None
        batch = await Batch.create(
            team_id=team, user_id=user, type="image", variants=2, placements=["FEED"], job_count=1
        )
        await CreativeJob.filter(id=job).update(
            batch_id=batch.id, rating="WINNER", client_reference="ref", client_metadata={"a": [1, 2]}
        )
        (found,) = await CreativeJob.filter(batch_id=batch.id, client_reference="ref")
        assert (found.rating, found.client_metadata) == ("WINNER", {"a": [1, 2]})
        assert (await Batch.get(id=batch.id)).placements == ["FEED"]
    finally:
        await db.close()
