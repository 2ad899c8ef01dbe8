"""Provider errors, split by what the worker does next, each with the fixed text a tenant sees.

::

    ProviderError            what the job's errorMessage says
    ├── RetryableError       retry later (timeouts, 5xx, 429, Runway THROTTLED), honouring retry_after;
    │                        after the last retry: "the provider kept failing …"
    ├── RejectedError        the job fails, free: "the provider could not complete this job …"
    │   ├── ModerationError  "the provider's content moderation refused this request …"
    │   ├── ProviderRequestError  the provider called our request invalid (its 4xx)
    │   ├── ProviderSetupError  our credentials, account or base URL (401/402/403)
    │   ├── LostTaskError    the provider no longer knows the task
    │   ├── OutputError      the output could not be copied (expired, too large, wrong type, bad host)
    │   ├── UnsafeUrlError   a provider answer pointed our credentials at another host
    │   └── InvalidInputError  our own check of the job's input failed: its message is ours, shown
    └── NotConfiguredError   no key and no simulator (production): our own text, shown

``message`` is the whole story for the server log and may hold whatever the provider put in its
answer; tenants only ever see :attr:`ProviderError.public`, the class's fixed text, except for the
two classes whose messages we wrote ourselves.
"""

from __future__ import annotations

from typing import ClassVar


class ProviderError(Exception):
    public_message: ClassVar[str] = "the provider could not complete this job; nothing was charged"
    # True where the message is ours alone (never a provider's words), so it may be shown as it is.
    message_is_ours: ClassVar[bool] = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def public(self) -> str:
        """What the tenant sees as the job's errorMessage."""
        return self.message if self.message_is_ours else self.public_message


class RetryableError(ProviderError):
    public_message = "the provider kept failing; nothing was charged"

    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class RejectedError(ProviderError):
    """The provider will not do this job; the tenant sees the class's fixed text."""


class ModerationError(RejectedError):
    public_message = "the provider's content moderation refused this request; nothing was charged"


class ProviderRequestError(RejectedError):
    public_message = "the provider refused the request as invalid; nothing was charged"


class ProviderSetupError(RejectedError):
    public_message = (
        "the provider is not usable with our setup (credentials, credits or address); "
        "the operator must fix it; nothing was charged"
    )


class LostTaskError(RejectedError):
    public_message = "the provider lost the task; nothing was charged"


class OutputError(RejectedError):
    public_message = "the provider's output could not be copied; nothing was charged"


class UnsafeUrlError(RejectedError):
    public_message = "the provider answered with an address we do not call; nothing was charged"


class InvalidInputError(RejectedError):
    """Our own check of the job's input (settings, duration, sizes): the message names the field."""

    message_is_ours = True


class NotConfiguredError(ProviderError):
    message_is_ours = True
