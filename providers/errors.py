"""Provider errors, split by what the worker does next.

::

    ProviderError
    ├── RetryableError      retry later (timeouts, 5xx, 429, Runway THROTTLED), honouring retry_after
    ├── RejectedError       the job fails, free (validation, moderation, lost task)
    │   └── ModerationError
    └── NotConfiguredError  no key and no simulator (production): refuse before anything is held
"""

from __future__ import annotations


class ProviderError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class RetryableError(ProviderError):
    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class RejectedError(ProviderError):
    """The provider will not do this job; the message is shown to the user."""


class ModerationError(RejectedError):
    pass


class NotConfiguredError(ProviderError):
    pass
