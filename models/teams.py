"""Teams, users, membership with a role, and team API keys (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.errors import DomainError, ErrorCode
from models.tenancy import require_team_row

API_KEY_PREFIX = "chk_"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


ALL_SCOPES = ("read", "generate", "billing")
ADMIN_ROLES = (Role.OWNER, Role.ADMIN)
MAX_ACTIVE_KEYS_PER_TEAM = 50


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
    # Bytes of the team's Drive files (pending uploads included: they reserve their size). Only
    # models.drive writes it, in the transaction that adds or removes the file rows.
    drive_bytes = fields.BigIntField(default=0, db_default=0)
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
    # JWTs issued before this moment are refused (``admin revoke-tokens``; auth.authenticate).
    tokens_valid_after = fields.DatetimeField(null=True)
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
    team_id: uuid.UUID
    # The user the key acts as (jobs created with it carry this user_id).
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="api_keys")
    user_id: uuid.UUID
    name = fields.CharField(max_length=200, default="default")
    prefix = fields.CharField(max_length=16)  # shown in listings so people recognise a key
    key_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the whole key
    scopes: fields.JSONField[list[str]] = fields.JSONField(default=all_scopes)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_key"


def hash_api_key(key: str) -> str:
    # Keys carry 192 random bits, so a fast hash is enough; no per-key salt is needed.
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once


async def create_api_key(
    team_id: uuid.UUID | str, user_id: uuid.UUID | str, *, name: str, scopes: list[str]
) -> CreatedKey:
    """A new team key acting as ``user_id`` (its creator). The secret is returned once, stored hashed."""
    name = (name or "").strip()
    if not 0 < len(name) <= 200:
        raise DomainError(ErrorCode.VALIDATION_FAILED, "name must be 1 to 200 characters", ["name"])
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if not scopes or unknown:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"scopes must be a non-empty subset of {', '.join(ALL_SCOPES)}",
            ["scopes"],
        )
    if await ApiKey.filter(team_id=team_id, revoked_at=None).count() >= MAX_ACTIVE_KEYS_PER_TEAM:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"a team has at most {MAX_ACTIVE_KEYS_PER_TEAM} active keys; revoke one first",
            ["name"],
        )
    secret = new_api_key()
    key = await ApiKey.create(
        team_id=team_id,
        user_id=user_id,
        name=name,
        prefix=secret[:12],
        key_hash=hash_api_key(secret),
        scopes=[s for s in ALL_SCOPES if s in scopes],
    )
    return CreatedKey(key=key, secret=secret)


async def team_api_keys(team_id: uuid.UUID | str, *, include_revoked: bool = False) -> list[ApiKey]:
    query = ApiKey.filter(team_id=team_id)
    if not include_revoked:
        query = query.filter(revoked_at=None)
    return await query.order_by("-created_at")


async def revoke_api_key(team_id: uuid.UUID | str, key_id: str) -> ApiKey:
    """Revoke a key of this team (at once, for every process); revoking twice is harmless."""
    key = await require_team_row(ApiKey, team_id, key_id, "API key")
    if key.revoked_at is None:
        await ApiKey.filter(id=key.id, revoked_at=None).update(revoked_at=datetime.now(UTC))
        await key.refresh_from_db()
    return key


@dataclass(frozen=True)
class CreatedTeam:
    team: Team
    user: User
    api_key: str  # shown once


async def create_team(name: str, *, email: str | None = None) -> CreatedTeam:
    """A team with one owner and one API key. The key is returned once and stored only hashed. Its
    Drive root folder is made when first used (models.drive.default_folder)."""

    key = new_api_key()
    async with in_transaction():
        team = await Team.create(name=name)
        user = await User.create(email=email or f"owner+{team.id}@teams.invalid", name=f"{name} owner")
        await Membership.create(team=team, user=user, role=Role.OWNER)
        await ApiKey.create(team=team, user=user, name="default", prefix=key[:12], key_hash=hash_api_key(key))
    return CreatedTeam(team=team, user=user, api_key=key)


async def revoke_user_tokens(user_id: uuid.UUID | str) -> datetime:
    """Every JWT issued to this person until now stops working (in every team); their API keys
    are untouched. Returns the moment from which tokens are valid again."""
    now = datetime.now(UTC)
    if not await User.filter(id=user_id).update(tokens_valid_after=now):
        raise DomainError(ErrorCode.NOT_FOUND, "user not found", ["user"])
    return now


async def remove_member(team_id: uuid.UUID | str, user_id: uuid.UUID | str) -> int:
    """A person leaves a team: their membership goes, and with it every credential they hold for
    it (their JWTs for the team fail the membership check; the keys they created are revoked, so
    they stay dead should the person come back). A team's last owner stays. Returns how many keys
    were revoked."""
    async with in_transaction():
        membership = await Membership.get_or_none(team_id=team_id, user_id=user_id)
        if membership is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such member in this team", ["user"])
        owners = await Membership.filter(team_id=team_id, role=Role.OWNER).count()
        if membership.role == Role.OWNER and owners <= 1:
            raise DomainError(ErrorCode.VALIDATION_FAILED, "a team keeps at least one owner", ["user"])
        await membership.delete()
        return await ApiKey.filter(team_id=team_id, user_id=user_id, revoked_at=None).update(
            revoked_at=datetime.now(UTC)
        )


async def add_member(team_id: uuid.UUID | str, email: str, role: Role) -> User:
    """A person joins a team with a role (a new user, or one that already exists)."""
    async with in_transaction():
        user, _ = await User.get_or_create(email=email, defaults={"name": email.split("@")[0]})
        await Membership.update_or_create(team_id=team_id, user=user, defaults={"role": role})
    return user
