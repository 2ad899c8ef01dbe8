"""``python main.py admin providers check``: every provider's cheapest read-only call, with the real key.

For each provider of the catalogue, its adapter's :meth:`check` makes one read-only request (credits,
account, or the model list) and says whether the provider answered, accepted the key and lists the
model we send, with the shutdown date the provider reports and the successor the catalogue names.
Providers without a key are checked against the simulator in development (``simulated``) and are
reported as not configured in production. Anything configured that will not work makes the command
exit 1: unreachable, key refused, model not listed, model past its shutdown date.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from providers import lifecycle
from providers.base import ProviderCheck
from providers.catalog import CATALOG
from providers.errors import NotConfiguredError
from providers.http_adapter import HttpAdapter
from providers.registry import adapter_for, endpoint, is_supported
from services.settings import Settings

# The simulator is mounted in-process under this origin when no CH_SIMULATOR_URL is set, so the
# development check needs nothing running.
IN_PROCESS_SIMULATOR = "http://simulator.invalid"
CHECK_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
WARN_DAYS = 30  # a shutdown this close is announced on every run


@dataclass(frozen=True)
class ProviderReport:
    provider: str
    family: str
    configured: bool  # a real key is set
    simulated: bool
    reachable: bool | None
    key_accepted: bool | None
    model: str | None
    model_listed: bool | None
    shutdown_date: str | None  # the provider's, else the catalogue's
    successor: str | None
    endpoint: str
    problems: tuple[str, ...]
    warnings: tuple[str, ...] = ()  # works today, but not for long (a shutdown within WARN_DAYS)

    @property
    def ok(self) -> bool:
        return not self.problems


def _lifecycle(provider: str) -> tuple[str | None, str | None]:
    """The catalogue's (shutdown date, successor) for a provider, where the catalogue records them."""
    spec = CATALOG[provider]
    shutdown = getattr(spec, "shutdown_date", None) or getattr(spec, "shutdown_on", None)
    successor = getattr(spec, "successor", None)
    return (str(shutdown) if shutdown else None), (str(successor) if successor else None)


def problems_of(result: ProviderCheck, shutdown: str | None, today: dt.date) -> tuple[str, ...]:
    """Why a checked provider will not work; empty when it will."""
    found: list[str] = []
    if not result.reachable:
        found.append(f"not reachable: {result.detail}")
    elif result.key_accepted is False:
        found.append(f"key refused: {result.detail}")
    elif result.key_accepted is None:
        found.append(f"refused the check call: {result.detail}")
    elif result.model_listed is False:
        found.append(f"model {result.detail}")
    if shutdown:
        try:
            past = dt.date.fromisoformat(shutdown[:10]) <= today
        except ValueError:
            past = False
        if past:
            found.append(f"{result.model or 'the model'} was shut down on {shutdown}")
    return tuple(found)


def warnings_of(
    model: str | None, shutdown: str | None, successor: str | None, today: dt.date
) -> tuple[str, ...]:
    """A shutdown within :data:`WARN_DAYS` (not yet past: that is a problem), with the successor."""
    try:
        when = dt.date.fromisoformat(shutdown[:10]) if shutdown else None
    except ValueError:
        return ()
    if when is None or not today < when <= today + dt.timedelta(days=WARN_DAYS):
        return ()
    then = f"; its successor is {successor}" if successor else ""
    days = (when - today).days
    return (
        f"{model or 'the model'} shuts down on {shutdown} (in {days} day{'s' if days > 1 else ''}){then}",
    )


async def check_provider(
    provider: str, client: httpx.AsyncClient, settings: Settings, today: dt.date
) -> ProviderReport:
    spec = CATALOG[provider]
    catalog_shutdown, _ = _lifecycle(provider)
    successor = lifecycle.successor(provider, lifecycle.config(settings))  # CH_PROVIDER_SUCCESSORS first
    try:
        where = endpoint(provider, settings)
    except NotConfiguredError:
        return ProviderReport(
            provider, spec.family, False, False, None, None, None, None, catalog_shutdown, successor, "", ()
        )
    adapter = adapter_for(provider, client, settings)
    if not isinstance(adapter, HttpAdapter):
        result = ProviderCheck(reachable=False, detail="its adapter has no check call")
    else:
        result = await adapter.check(provider)
    shutdown = result.shutdown_date or catalog_shutdown
    problems = problems_of(result, shutdown, today)
    warnings = warnings_of(result.model, shutdown, successor, today)
    cfg = dataclasses.replace(lifecycle.config(settings), fixed_day=today)
    if lifecycle.state(spec, today) == lifecycle.SHUT_DOWN:
        try:
            runs = lifecycle.resolve(provider, cfg)
        except lifecycle.ModelShutDown:
            runs = None  # refused at validation: jobs picking it will not work
        if runs is not None and runs.replaced:
            # Its model is never sent again: its jobs run on the successor, checked on its own row.
            problems = problems_of(dataclasses.replace(result, model_listed=None), None, today)
            warnings = (
                f"{result.model or 'the model'} was shut down on {shutdown}; its jobs run on "
                f"{runs.provider} ({runs.wire_model})",
            )
    return ProviderReport(
        provider=provider,
        family=spec.family,
        configured=not where.simulated,
        simulated=where.simulated,
        reachable=result.reachable,
        key_accepted=result.key_accepted,
        model=result.model,
        model_listed=result.model_listed,
        shutdown_date=shutdown,
        successor=successor,
        endpoint=result.endpoint,
        problems=problems,
        warnings=warnings,
    )


async def check_providers(
    client: httpx.AsyncClient, settings: Settings, today: dt.date | None = None
) -> list[ProviderReport]:
    """Every supported provider of the catalogue, checked at once (one read-only call each)."""
    today = today or lifecycle.config(settings).day()  # the service's clock (CH_TODAY in development)
    providers = [p for p in CATALOG if is_supported(p)]
    return list(await asyncio.gather(*(check_provider(p, client, settings, today) for p in providers)))


def _mark(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[value]


def table(reports: list[ProviderReport]) -> str:
    """The reports as a fixed-width table, one provider a row, problems underneath."""
    head = ("provider", "via", "reachable", "key", "model", "listed", "shutdown", "successor", "status")
    rows = [head]
    for r in reports:
        via = "simulator" if r.simulated else ("provider" if r.configured else "not configured")
        status = "ok" if r.ok else "FAIL"
        if not r.configured and not r.simulated:
            status = "skipped"
        rows.append(
            (
                r.provider,
                via,
                _mark(r.reachable),
                _mark(r.key_accepted),
                r.model or "-",
                _mark(r.model_listed),
                r.shutdown_date or "-",
                r.successor or "-",
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for r in reports:
        lines.extend(f"{r.provider}: {problem}" for problem in r.problems)
        lines.extend(f"{r.provider}: warning: {warning}" for warning in r.warnings)
    return "\n".join(lines)


def as_json(reports: list[ProviderReport]) -> str:
    items: list[dict[str, Any]] = [
        {**asdict(r), "problems": list(r.problems), "warnings": list(r.warnings), "ok": r.ok} for r in reports
    ]
    return json.dumps({"ok": all(r.ok for r in reports), "providers": items}, indent=2)


def check_client(settings: Settings) -> tuple[httpx.AsyncClient, Settings]:
    """The client the check uses, and the settings it reads. In development without
    ``CH_SIMULATOR_URL`` the simulator is mounted in-process, so nothing has to be running."""
    if settings.env == "production" or settings.simulator_url:
        return httpx.AsyncClient(timeout=CHECK_TIMEOUT, follow_redirects=False), settings
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from providers.registry import SIMULATOR_API_KEY
    from providers.simulator import create_simulator_app

    app = Starlette(routes=[Mount("/simulator", app=create_simulator_app(SIMULATOR_API_KEY, 0))])
    client = httpx.AsyncClient(
        timeout=CHECK_TIMEOUT,
        follow_redirects=False,
        mounts={IN_PROCESS_SIMULATOR: httpx.ASGITransport(app=app)},
    )
    return client, settings.model_copy(update={"simulator_url": f"{IN_PROCESS_SIMULATOR}/simulator"})


async def run_check(settings: Settings, *, json_output: bool) -> int:
    """The command: prints the table (or JSON); 1 when something configured will not work."""
    client, settings = check_client(settings)
    async with client:
        reports = await check_providers(client, settings)
    print(as_json(reports) if json_output else table(reports))
    return 0 if all(r.ok for r in reports) else 1
