"""Who is calling: team API keys (``chk_…``, stored hashed) and JWTs signed with CH_SECRET_KEY;
and signed, expiring download URLs for Drive files."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeGuard

import jwt

from models.errors import DomainError, ErrorCode
from models.teams import (
    ADMIN_ROLES,
    ALL_SCOPES,
    API_KEY_PREFIX,
    ApiKey,
    Membership,
    Role,
    hash_api_key,
)

if TYPE_CHECKING:
    from services.settings import Settings

JWT_ALGORITHM = "HS256"
# The longest a JWT may live (exp - iat); CH_JWT_MAX_LIFETIME_SECONDS. A longer one is refused.
JWT_MAX_LIFETIME_SECONDS = 24 * 3600.0
JWT_DEFAULT_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class Principal:
    team_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    scopes: frozenset[str]
    api_key_id: uuid.UUID | None = None
    # A JWT's iat and exp (seconds since the epoch); None for an API key.
    issued_at: float | None = None
    expires_at: float | None = None
    # When the credential was found valid (time.monotonic()): a live stream's watch replays the
    # revocations its process heard since then (revocation.CredentialWatch).
    checked_at: float = field(default_factory=time.monotonic, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


def require_admin(principal: Principal, what: str) -> None:
    """Members generate and read; managing keys, webhooks and the low-balance threshold is for
    team owners and admins (an API key acts with the role of the person who created it), with a
    credential holding every scope: a narrower key (say, read-only) made by an owner must not be
    able to mint wider keys, revoke others or redirect webhooks."""
    if not principal.is_admin:
        raise DomainError(ErrorCode.FORBIDDEN, f"only team owners and admins can {what}")
    if not set(ALL_SCOPES) <= set(principal.scopes):
        raise DomainError(
            ErrorCode.FORBIDDEN, f"to {what} the credential needs every scope ({', '.join(ALL_SCOPES)})"
        )


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, credential = header.partition(" ")
    return credential.strip() or None if scheme.lower() == "bearer" else None


async def authenticate(
    credential: str | None, secret: str, *, max_jwt_lifetime: float = JWT_MAX_LIFETIME_SECONDS
) -> Principal | None:
    """The caller behind a bearer credential, or None: missing, malformed, revoked, expired, a JWT
    living longer than ``max_jwt_lifetime`` or issued before its user's tokens were revoked, or a
    credential of someone no longer in the team (a key dies with its creator's membership)."""
    if not credential:
        return None
    if credential.startswith(API_KEY_PREFIX):
        key = await ApiKey.get_or_none(key_hash=hash_api_key(credential), revoked_at=None)
        if key is None:
            return None
        membership = await Membership.get_or_none(team_id=key.team_id, user_id=key.user_id)
        if membership is None:  # its creator left the team
            return None
        # last_used_at is a hint for people, so a write at most once a minute per key is plenty
        now = datetime.now(UTC)
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            await ApiKey.filter(id=key.id).update(last_used_at=now)
        return Principal(key.team_id, key.user_id, membership.role, frozenset(key.scopes), key.id)
    claims = _jwt_claims(credential, secret, max_jwt_lifetime)
    if claims is None:
        return None
    team_id, user_id, issued_at, expires_at = claims
    membership = await Membership.get_or_none(team_id=team_id, user_id=user_id).select_related("user")
    if membership is None:
        return None
    valid_after: datetime | None = membership.user.tokens_valid_after
    if valid_after is not None and issued_at < valid_after.timestamp():
        return None
    return Principal(
        team_id,
        user_id,
        membership.role,
        frozenset(ALL_SCOPES),
        issued_at=issued_at,
        expires_at=expires_at,
    )


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _jwt_claims(
    credential: str, secret: str, max_lifetime: float
) -> tuple[uuid.UUID, uuid.UUID, float, float] | None:
    """(team, user, iat, exp) of a valid JWT; None for anything else, however malformed."""
    try:
        claims = jwt.decode(
            credential, secret, algorithms=[JWT_ALGORITHM], options={"require": ["sub", "team", "exp", "iat"]}
        )
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):  # e.g. "exp": 1e999
        return None
    team, sub, iat, exp = claims.get("team"), claims.get("sub"), claims.get("iat"), claims.get("exp")
    if not (isinstance(team, str) and isinstance(sub, str)):
        return None
    if not (_is_number(iat) and _is_number(exp)):
        return None
    if not exp - iat <= max_lifetime:  # also refuses nan
        return None
    try:
        return uuid.UUID(team), uuid.UUID(sub), float(iat), float(exp)
    except ValueError:
        return None


def issue_jwt(user_id: uuid.UUID, team_id: uuid.UUID, secret: str, ttl: timedelta = JWT_DEFAULT_TTL) -> str:
    """A token for a person in a team. ``iat`` keeps its fraction of a second, so revoking a user's
    tokens (``User.tokens_valid_after``) refuses exactly those issued before."""
    now = time.time()
    claims = {"sub": str(user_id), "team": str(team_id), "iat": now, "exp": now + ttl.total_seconds()}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


# -- signed download URLs ----------------------------------------------------------------------
# A link's purpose is part of what is signed: a thumbnail link ("thumb:") shared to show a preview
# never opens the full-resolution file ("file:"); a file's link opens the file and its thumbnail.
FILE_PURPOSE = "file"
THUMBNAIL_PURPOSE = "thumb"


def _file_signature(file_id: str, expires: int, secret: str, purpose: str = FILE_PURPOSE) -> str:
    message = f"{purpose}:{file_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_file_path(file_id: str, secret: str, ttl_seconds: int, *, thumbnail: bool = False) -> str:
    """``/files/<id>?expires=…&signature=…`` (with ``thumbnail``: ``/files/<id>/thumbnail?…``,
    signed for the thumbnail only)."""
    expires = int(time.time()) + ttl_seconds
    purpose, route = (THUMBNAIL_PURPOSE, "/thumbnail") if thumbnail else (FILE_PURPOSE, "")
    signature = _file_signature(file_id, expires, secret, purpose)
    return f"/files/{file_id}{route}?expires={expires}&signature={signature}"


def verify_file_signature(
    file_id: str, expires: str | None, signature: str | None, secret: str, *, thumbnail: bool = False
) -> bool:
    """A valid, unexpired link to the file (``thumbnail=False``: a file link only) or to its
    thumbnail (``thumbnail=True``: a thumbnail link, or the file's own link)."""
    if not (expires and signature and expires.isdigit()):
        return False
    if int(expires) < time.time():
        return False
    purposes = (THUMBNAIL_PURPOSE, FILE_PURPOSE) if thumbnail else (FILE_PURPOSE,)
    return any(
        hmac.compare_digest(
            signature.encode(), _file_signature(file_id, int(expires), secret, purpose).encode()
        )
        for purpose in purposes
    )


def signed_file_url(file_id: str, settings: Settings, *, thumbnail: bool = False) -> str:
    """A Drive file's absolute, signed, expiring URL; with ``thumbnail``, its thumbnail's (or video
    poster's), ``/files/<id>/thumbnail``, signed for the thumbnail alone."""
    return settings.public_url + sign_file_path(
        file_id, settings.secret, settings.download_url_ttl_seconds, thumbnail=thumbnail
    )


def file_links(file_id: str, has_thumbnail: bool, settings: Settings) -> tuple[str, str | None]:
    """A Drive file's ``url`` and ``thumbnail_url`` (None without a thumbnail), signed: what the
    GraphQL DriveFile and the REST form show beside the file's snapshot."""
    thumbnail = signed_file_url(file_id, settings, thumbnail=True) if has_thumbnail else None
    return signed_file_url(file_id, settings), thumbnail


def signed_result_urls(result_paths: list[str], settings: Settings) -> list[str]:
    """``/files/<id>`` paths as absolute, signed, expiring URLs (what clients get in resultUrls)."""
    ttl = settings.download_url_ttl_seconds
    return [
        settings.public_url + sign_file_path(path.rsplit("/", 1)[-1], settings.secret, ttl)
        for path in result_paths
    ]


# -- signed upload URLs (local storage: the client PUTs a large upload's bytes to the API) -------
def _upload_signature(file_id: str, expires: int, secret: str) -> str:
    # "upload:" keeps a download link's signature from ever authorising a PUT, and the reverse.
    message = f"upload:{file_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_upload_path(file_id: str, secret: str, expires: int) -> str:
    """``/uploads/<id>?expires=…&signature=…``: PUT a pending upload's bytes until ``expires`` (unix time)."""
    return f"/uploads/{file_id}?expires={expires}&signature={_upload_signature(file_id, expires, secret)}"


def upload_signature_valid(file_id: str, expires: str | None, signature: str | None, secret: str) -> bool:
    """The signature is the API's for this file and expiry (expiry itself is the caller's check)."""
    if not (expires and signature and expires.isdigit() and len(expires) <= 12):
        return False
    # bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a refusal)
    return hmac.compare_digest(signature.encode(), _upload_signature(file_id, int(expires), secret).encode())
