"""The team event outbox: events that partners get by webhook (``models.webhooks``) and, for
``credits.low_balance``, subscribers in realtime. Written in the transaction that caused them;
``published_at`` marks the realtime publication, ``dispatched_at`` the webhook fan-out."""

from __future__ import annotations

import uuid
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.teams import Team

LOW_BALANCE = "credits.low_balance"
JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
JOB_CANCELED = "job.canceled"
ENDPOINT_DISABLED = "webhook.endpoint_disabled"


class TeamEvent(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="events")
    team_id: uuid.UUID
    kind = fields.CharField(max_length=64)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    published_at = fields.DatetimeField(null=True)
    dispatched_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "team_event"
        indexes = (("team_id", "published_at"), ("dispatched_at", "created_at"))
