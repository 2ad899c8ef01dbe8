"""Migration 0008 (job progress) on SQLite and PostgreSQL: a job of a database as 0006 left it is
migrated; it reads as not started (progress 0, no place in line, no expected completion), and the
new columns take what the worker writes."""

from __future__ import annotations

import uuid

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from models import jobs as job_ops
from models.jobs import CreativeJob, JobStatus
from services import db
from services.settings import Settings
from tests.test_drive_migration import settings  # noqa: F401  # the fixture: both databases


class _Events:
    def __init__(self) -> None:
        self.versions: list[int] = []

    async def job_changed(self, job: CreativeJob) -> None:
        self.versions.append(job.version)

    async def balance_changed(self, team_id: uuid.UUID | str) -> None:
        pass


async def test_0008_migrates_the_jobs_of_0006(settings: Settings) -> None:  # noqa: F811
    config = db.tortoise_config(settings)
    await migrate(config=config, target="models.0006_drive_tree_and_uploads")
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
        f"created_at, updated_at) VALUES ('{job}', '{team}', '{user}', 'video', 'pending', 'luma_ray3', "
        "'{}', '[]', 0, 100, 0, '{}', 1, '{}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    await Tortoise.close_connections()

    await db.migrate(settings)
    await db.init(settings)
    try:
        row = await CreativeJob.get(id=job)
        snap = row.snapshot()
        assert (snap["progress"], snap["queue_position"], snap["expected_completion_at"]) == (0.0, None, None)
        events = _Events()
        assert await job_ops.record_queue_position(row, 3, 2, events=events)
        assert row.queue_position == 3 and row.version == 2 and events.versions == [2]
        assert row.snapshot()["expected_completion_at"] is not None
        started = await job_ops.start(row, events=events)
        assert started is not None and started.status == JobStatus.PROCESSING
        assert started.snapshot()["queue_position"] is None and started.progress == 0.0
        assert await job_ops.record_progress(started, 0.4, events=events)  # Runway says 40 %
        again = await CreativeJob.get(id=job)
        assert again.progress == 0.4 and again.version == 4 and events.versions == [2, 3, 4]
        assert not await job_ops.record_progress(again, 0.42, events=events)  # 2 points: not pushed
        assert (await CreativeJob.get(id=job)).version == 4
    finally:
        await db.close()
