"""Teams, users, membership with a role, and team API keys (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.transactions import in_transaction

API_KEY_PREFIX = "chk_"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


ALL_SCOPES = ("read", "generate", "billing")


def all_scopes() -> list[str]:
    return list(ALL_SCOPES)


class Team(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=200)
    # Settled balance, and balance minus open holds. Only models.credits writes these.
    balance_cents = fields.BigIntField(default=0)
    available_cents = fields.BigIntField(default=0)
    low_balance_threshold_cents = fields.BigIntField(null=True)
    # Set when available credits crossed below the threshold (one alert per crossing); cleared
    # when they rise to it again, which re-arms the alert.
    low_balance_alerted = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "team"
        constraints = (
            CheckConstraint(check="available_cents >= 0", name="team_available_not_negative"),
            CheckConstraint(check="available_cents <= balance_cents", name="team_available_within_balance"),
        )


class User(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    email = fields.CharField(max_length=320, unique=True)
    name = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"


class Membership(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="memberships")
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="memberships")
    role = fields.CharEnumField(Role, max_length=16, default=Role.MEMBER)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "team_membership"
        unique_together = (("team", "user"),)


class ApiKey(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="api_keys")
    # The user the key acts as (jobs created with it carry this user_id).
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="api_keys")
    name = fields.CharField(max_length=200, default="default")
    prefix = fields.CharField(max_length=16)  # shown in listings so people recognise a key
    key_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the whole key
    scopes = fields.JSONField(default=all_scopes)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_key"


def hash_api_key(key: str) -> str:
    # Keys carry 192 random bits, so a fast hash is enough; no per-key salt is needed.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedTeam:
    team: Team
    user: User
    api_key: str  # shown once


async def create_team(name: str, *, email: str | None = None) -> CreatedTeam:
    """A team with one owner and one API key. The key is returned once and stored only hashed."""
    from models.drive import default_folder  # the team's Drive root is created with it

    key = API_KEY_PREFIX + secrets.token_urlsafe(24)
    async with in_transaction():
        team = await Team.create(name=name)
        user = await User.create(email=email or f"owner+{team.id}@teams.invalid", name=f"{name} owner")
        await Membership.create(team=team, user=user, role=Role.OWNER)
        await ApiKey.create(team=team, user=user, name="default", prefix=key[:8], key_hash=hash_api_key(key))
        await default_folder(team.id)
    return CreatedTeam(team=team, user=user, api_key=key)


async def add_member(team_id: uuid.UUID | str, email: str, role: Role) -> User:
    """A person joins a team with a role (a new user, or one that already exists)."""
    async with in_transaction():
        user, _ = await User.get_or_create(email=email, defaults={"name": email.split("@")[0]})
        await Membership.update_or_create(team_id=team_id, user=user, defaults={"role": role})
    return user
