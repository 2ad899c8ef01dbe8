"""Realtime: the current state first (read after subscribing, so nothing falls in the gap), then
every newer change from the team's channel."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import strawberry

from models import batches as batch_ops
from models import jobs as job_ops
from models.teams import Team
from resolvers.outputs import job_output
from schema.context import Info
from schema.inputs import JobFilter
from schema.types import CreativeJob, CreditBalance
from services.pubsub import balance_snapshot

# A job's updatedAt is stamped before its commit and publish: after a Redis outage, re-read from a
# little before the bus last heard from Redis.
RESYNC_MARGIN_SECONDS = 30.0


async def job_updated(info: Info, id: strawberry.ID) -> AsyncGenerator[CreativeJob, None]:
    principal = info.context.require("read")
    settings = info.context.services.settings
    async with info.context.services.bus.subscribe(principal.team_id) as queue:
        row = await job_ops.get_for_team(principal.team_id, str(id))
        if row is None:
            return
        snap = row.snapshot()
        yield job_output(snap, settings)
        version = snap["version"]
        while snap["status"] not in ("completed", "failed", "canceled"):
            event = await queue.get()
            if event["kind"] == "resync":  # Redis came back: what was published meanwhile is lost
                fresh = await job_ops.get_for_team(principal.team_id, str(id))
                if fresh is None:
                    return
                candidate = fresh.snapshot()
            elif event["kind"] == "job" and event["data"]["id"] == snap["id"]:
                candidate = event["data"]
            else:
                continue
            if candidate["version"] <= version:
                continue
            snap, version = candidate, candidate["version"]
            yield job_output(snap, settings)


async def jobs_updated(info: Info, filter: JobFilter | None = None) -> AsyncGenerator[CreativeJob, None]:
    principal = info.context.require("read")
    wanted: dict[str, str] = {}
    if filter is not None:
        pairs = (
            ("type", filter.type),
            ("status", filter.status),
            ("provider", filter.provider),
            ("rating", filter.rating),
        )
        wanted = {key: value.value for key, value in pairs if value is not None}
        if filter.batch_id is not None:
            # a batch that is not the team's ends the subscription at once, as jobUpdated's job does;
            # the id is matched as the snapshots spell it, however the client spelled it
            try:
                batch_id = str(uuid.UUID(str(filter.batch_id)))
            except ValueError:
                return
            if await batch_ops.get_for_team(principal.team_id, batch_id) is None:
                return
            wanted["batch_id"] = batch_id
        if filter.client_reference is not None:
            wanted["client_reference"] = filter.client_reference
        if filter.mine:
            wanted["user_id"] = str(principal.user_id)
    settings = info.context.services.settings
    seen: dict[str, int] = {}
    subscribed_at = time.time()
    async with info.context.services.bus.subscribe(principal.team_id) as queue:
        while True:
            event = await queue.get()
            if event["kind"] == "resync":  # Redis came back: re-read what may have been lost
                since = max(event.get("since", subscribed_at), subscribed_at) - RESYNC_MARGIN_SECONDS
                rows = await job_ops.changed_since(principal.team_id, datetime.fromtimestamp(since, UTC))
                snaps = [row.snapshot() for row in rows]
            elif event["kind"] == "job":
                snaps = [event["data"]]
            else:
                continue
            for snap in snaps:
                if seen.get(snap["id"], 0) >= snap["version"]:
                    continue
                if any(snap.get(key) != value for key, value in wanted.items()):
                    continue
                seen[snap["id"]] = snap["version"]
                if len(seen) > 10_000:  # bounded memory on long-lived connections
                    seen.clear()
                yield job_output(snap, settings)


async def credit_balance_updated(info: Info) -> AsyncGenerator[CreditBalance, None]:
    principal = info.context.require("read")
    async with info.context.services.bus.subscribe(principal.team_id) as queue:
        team = await Team.get(id=principal.team_id)
        last = balance_snapshot(team)
        yield CreditBalance.from_snapshot(last)
        while True:
            event = await queue.get()
            if event["kind"] == "resync":
                snap = balance_snapshot(await Team.get(id=principal.team_id))
            elif event["kind"] == "balance":
                snap = event["data"]
            else:
                continue
            if snap != last:
                last = snap
                yield CreditBalance.from_snapshot(snap)
