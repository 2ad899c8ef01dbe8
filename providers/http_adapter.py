"""The common body of the HTTP adapters: construction, auth headers, requests, poll pacing."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import httpx

from providers.base import Done, ImageSlot, JobSpec, Pending, ProviderCheck, Submitted
from providers.errors import (
    ProviderError,
    ProviderSetupError,
    RetryableError,
    UnsafeUrlError,
)
from providers.hosts import API_HOSTS
from providers.http import host_matches, json_of, origin, send


class HttpAdapter:
    """Base for adapters of one provider family; subclasses set the class variables and ``auth_headers``.

    ``poll_interval_scale`` multiplies every suggested wait (tests make it small so that polling a
    fast simulator takes milliseconds, not seconds).
    """

    family: ClassVar[str]
    provider_name: ClassVar[str]  # how the provider is named in error messages
    poll_interval: ClassVar[float] = 2.0  # seconds between polls at scale 1
    request_timeout: ClassVar[httpx.Timeout] = httpx.Timeout(30.0, connect=10.0)
    moderation_codes: ClassVar[Collection[str]] = ()
    can_cancel: ClassVar[bool] = False  # see providers.base.Adapter; adapters that can override both
    # Uploaded inputs the provider takes (providers.base.ImageSlot); None: it takes none of that kind.
    start_image: ClassVar[ImageSlot | None] = None
    reference_images: ClassVar[ImageSlot | None] = None
    portrait_image: ClassVar[ImageSlot | None] = None

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        *,
        poll_interval_scale: float = 1.0,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.poll_interval_scale = poll_interval_scale

    def auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def url(self, path: str) -> str:
        """The provider path appended to the configured base URL."""
        return f"{self.base_url}{path}"

    def is_api_url(self, url: str) -> bool:
        """Whether our credentials may go to ``url``: the configured base URL's origin, or one of
        the family's API hosts (:data:`providers.hosts.API_HOSTS`) over https on port 443.
        Anything a provider's answer hands us (BFL's polling_url, Veo's file URI) is checked with
        this before use."""
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            return False
        if origin(target) == origin(self.base_url):
            return True
        scheme, host, port = origin(target)
        return scheme == "https" and port == 443 and host_matches(host, API_HOSTS.get(self.family, ()))

    @property
    def wait(self) -> float:
        """Seconds the worker should wait before the next poll."""
        return self.poll_interval * self.poll_interval_scale

    def submitted(self, task_id: str, state: dict[str, Any] | None = None) -> Submitted:
        return Submitted(task_id=task_id, retry_after=self.wait, state=state or {})

    def pending(self, progress: float | None = None) -> Pending:
        return Pending(retry_after=self.wait, progress=progress)

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    ) -> httpx.Response:
        """One authenticated request to ``url`` (absolute); provider errors raised as such.

        Refused with :class:`UnsafeUrlError`, nothing sent, when ``url`` is not :meth:`is_api_url`."""
        if not self.is_api_url(url):
            raise UnsafeUrlError(
                f"{self.provider_name} gave us a URL on another host or scheme ({_where(url)}); "
                "not called with our credentials",
                code="bad_provider_url",
            )
        return await send(
            self.client,
            method,
            url,
            provider=self.provider_name,
            headers={**self.auth_headers(), **(headers or {})},
            json_body=json_body,
            params=params,
            request_timeout=self.request_timeout,
            moderation_codes=self.moderation_codes,
            form=form,
            files=files,
        )

    async def request_json(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        response = await self.request(method, url, json_body=json_body, params=params)
        return json_of(response, provider=self.provider_name)

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        """What the price of the request :meth:`submit` would send depends on besides its units (the
        price table's ``when`` keys: quality, size, model, mode, sound, resolution …), read from that
        request itself, so the tier priced is the tier sent. Empty when one rate fits every request."""
        return {}

    def estimated_units(self, job: JobSpec) -> float | None:
        """The units the request would use, where only the request can tell (``None``: the
        generic estimate from the job's parameters applies)."""
        return None

    async def submit(self, job: JobSpec) -> Submitted | Done:
        raise NotImplementedError

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        raise NotImplementedError

    async def cancel(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> bool:
        """Most of these APIs have no cancel call; the ones that do set ``can_cancel`` and override this."""
        return False

    # -- admin providers check: the cheapest read-only call the provider offers -----------------------

    check_path: ClassVar[str] = ""  # GET, appended to the base URL; each adapter names its own
    # provider -> wire model set by CH_PROVIDER_MODELS (registry.adapter_for): the model the check
    # looks for is the one jobs are sent with, not the catalogue's when an operator replaced it.
    wire_models: Mapping[str, str] = MappingProxyType({})
    check_params: ClassVar[dict[str, str]] = {}

    def check_models(self, provider: str) -> tuple[str, ...]:
        """The wire model ids this adapter sends for ``provider`` (empty: the API has none)."""
        return ()

    def listed_models(self, answer: Any) -> set[str] | None:
        """The model ids the check call's answer lists; ``None`` when that call lists none."""
        return None

    async def check(self, provider: str) -> ProviderCheck:
        """One read-only call (:attr:`check_path`) with our key: reachable, key accepted, models listed."""
        models = self.check_models(provider)
        where = f"GET {self.check_path}"
        try:
            answer = await self.request_json(
                "GET", self.url(self.check_path), params=self.check_params or None
            )
        except ProviderError as exc:
            return check_failure(exc, ", ".join(models) or None, where)
        return self.check_result(models, self.listed_models(answer), where)

    @staticmethod
    def check_result(models: tuple[str, ...], listed: set[str] | None, where: str) -> ProviderCheck:
        missing = [m for m in models if listed is not None and m not in listed]
        return ProviderCheck(
            reachable=True,
            key_accepted=True,
            model=", ".join(models) or None,
            model_listed=None if listed is None or not models else not missing,
            endpoint=where,
            detail=f"not listed by the provider: {', '.join(missing)}" if missing else "",
        )


def check_failure(exc: ProviderError, model: str | None, where: str) -> ProviderCheck:
    """What a provider error on the check call says: unreachable, key refused, or another refusal."""
    if isinstance(exc, UnsafeUrlError) or (
        isinstance(exc, RetryableError) and exc.code in ("transport", "timeout")
    ):
        return ProviderCheck(reachable=False, model=model, endpoint=where, detail=exc.message)
    if isinstance(exc, ProviderSetupError):
        accepted = exc.code == "insufficient_credits"  # 402: the key works, the account is empty
        return ProviderCheck(
            reachable=True, key_accepted=accepted, model=model, endpoint=where, detail=exc.message
        )
    return ProviderCheck(reachable=True, key_accepted=None, model=model, endpoint=where, detail=exc.message)


def _where(url: str) -> str:
    """Scheme and host of a URL for a log line (never its path or query, which may hold a token)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "an unusable address"
    return f"{parsed.scheme}://{parsed.host}"
