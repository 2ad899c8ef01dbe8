"""Expected failures of domain operations, carried to clients as ``userErrors`` (or REST error bodies)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Also the API's ``ErrorCode`` enum (schema/enums.py exposes this class)."""

    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    PROVIDER_NOT_SUPPORTED = "PROVIDER_NOT_SUPPORTED"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    # A provider's library (avatars, voices) could not be read to check an id: nothing was held,
    # try again (models/library.py).
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    # The work asked for goes on (an upload's check on a worker): ask again for its outcome.
    IN_PROGRESS = "IN_PROGRESS"
    # The request would take the submitting member or API key over a spend cap
    # (models/spend_caps.py): nothing was held.
    SPEND_CAP_EXCEEDED = "SPEND_CAP_EXCEEDED"


class DomainError(Exception):
    def __init__(self, code: ErrorCode, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class RateLimited(DomainError):
    """Too many requests in the current window; ``retry_after_seconds`` until it resets."""

    def __init__(self, message: str, retry_after_seconds: int, reset_at: int) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message)
        self.retry_after_seconds = retry_after_seconds
        self.reset_at = reset_at  # unix time
