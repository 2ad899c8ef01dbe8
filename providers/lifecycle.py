"""Model lifecycles as data: which wire model a provider of ours sends, whether its provider still
serves it on a given day, and what a job that picks a shut-down model gets instead.

The catalogue (:mod:`providers.catalog`) records each entry's wire model, shutdown date and
successor; settings override the first two without a release (``CH_PROVIDER_MODELS``,
``CH_PROVIDER_SUCCESSORS``). A model is *active* without an announced date, *deprecated* until
its shutdown date and *shut down* from that day on (UTC). A job on a shut-down model runs on its
successor (``CH_MODEL_SHUTDOWN_POLICY=successor``, the default: priced as the successor, the model
recorded on the job) or is refused before anything is held (``refuse``, or when there is no
successor) with a message naming the successor. Within :data:`WARN_DAYS` of a shutdown the
generate payloads carry a warning.

"Today" comes from :func:`today`: the UTC date, or the day fixed by ``CH_TODAY`` (a test hook,
refused in production), or whatever clock a test puts in ``_clock``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from providers.catalog import CATALOG, ProviderSpec, default_provider
from providers.errors import InvalidInputError

ACTIVE, DEPRECATED, SHUT_DOWN = "active", "deprecated", "shut_down"
WARN_DAYS = 30
SUCCESSOR, REFUSE = "successor", "refuse"
MAX_CHAIN = 5  # successors of successors followed at most this far


def _utc_today() -> date:
    return datetime.now(UTC).date()


_clock: Callable[[], date] = _utc_today  # what today() reads; tests replace it (tests/conftest.py)


def today() -> date:
    return _clock()


@dataclass(frozen=True)
class LifecycleConfig:
    """The settings that decide lifecycles (see :func:`config`)."""

    policy: str = SUCCESSOR
    models: Mapping[str, str] = field(default_factory=dict)  # provider -> wire model
    successors: Mapping[str, str] = field(default_factory=dict)  # provider -> provider ("": none)
    fixed_day: date | None = None

    def day(self) -> date:
        return self.fixed_day or today()


def config(settings: Any | None) -> LifecycleConfig:
    if settings is None:
        return LifecycleConfig()
    return LifecycleConfig(
        policy=settings.model_shutdown_policy,
        models=settings.provider_models,
        successors=settings.provider_successors,
        fixed_day=settings.today,
    )


class ModelShutDown(Exception):
    """A job picked a model its provider no longer serves and nothing runs it instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def wire_model(provider: str, cfg: LifecycleConfig) -> str:
    return cfg.models.get(provider) or CATALOG[provider].wire_model


def successor(provider: str, cfg: LifecycleConfig) -> str | None:
    """The provider of ours that replaces ``provider`` (configured, else the catalogue's)."""
    name = cfg.successors.get(provider, CATALOG[provider].successor)
    return name if name and name in CATALOG and CATALOG[name].type == CATALOG[provider].type else None


def state(spec: ProviderSpec, day: date) -> str:
    if spec.shutdown_date is None:
        return ACTIVE
    return SHUT_DOWN if day >= spec.shutdown_date else DEPRECATED


def _replacement(spec: ProviderSpec, cfg: LifecycleConfig) -> str:
    """How a message names what replaces ``spec``: our provider (and its model), or the provider's
    own recommendation."""
    name = successor(spec.provider, cfg)
    if name:
        return f"{name} ({wire_model(name, cfg)})"
    if spec.successor_model:
        return f"{spec.successor_model}, which this service does not offer yet"
    return "another provider (see the providers query)"


@dataclass(frozen=True)
class Resolved:
    """What a job that picked ``requested`` runs on."""

    requested: str
    provider: str
    wire_model: str
    warnings: tuple[dict[str, Any], ...] = ()

    @property
    def replaced(self) -> bool:
        return self.provider != self.requested

    def metadata(self) -> dict[str, Any]:
        """What the job records: the model it runs, what was asked for when it differs, warnings."""
        data: dict[str, Any] = {"model": self.wire_model}
        if self.replaced:
            data["requested_provider"] = self.requested
        if self.warnings:
            data["warnings"] = [dict(w) for w in self.warnings]
        return data


def _near_shutdown(spec: ProviderSpec, cfg: LifecycleConfig, day: date) -> dict[str, Any] | None:
    if spec.shutdown_date is None or day >= spec.shutdown_date:
        return None
    days = (spec.shutdown_date - day).days
    if days > WARN_DAYS:
        return None
    when = "tomorrow" if days == 1 else f"in {days} days"
    return {
        "code": "MODEL_DEPRECATED",
        "provider": spec.provider,
        "model": wire_model(spec.provider, cfg),
        "shutdown_date": spec.shutdown_date.isoformat(),
        "successor": successor(spec.provider, cfg),
        "message": f"{spec.provider} ({wire_model(spec.provider, cfg)}) shuts down on "
        f"{spec.shutdown_date.isoformat()} ({when}); move to {_replacement(spec, cfg)}",
    }


def resolve(provider: str, cfg: LifecycleConfig) -> Resolved:
    """The provider and wire model a job that picked ``provider`` runs on today, with its
    warnings. Raises :class:`ModelShutDown` (naming the successor) when nothing may run it."""
    day = cfg.day()
    warnings: list[dict[str, Any]] = []
    current = CATALOG[provider]
    for _ in range(MAX_CHAIN):
        if state(current, day) != SHUT_DOWN:
            break
        assert current.shutdown_date is not None
        shut = f"{current.provider} ({wire_model(current.provider, cfg)}) was shut down by its provider on {current.shutdown_date.isoformat()}"
        name = successor(current.provider, cfg)
        if name is None or cfg.policy != SUCCESSOR:
            raise ModelShutDown(f"{shut}; choose {_replacement(current, cfg)} instead")
        warnings.append(
            {
                "code": "MODEL_REPLACED",
                "provider": current.provider,
                "model": wire_model(current.provider, cfg),
                "shutdown_date": current.shutdown_date.isoformat(),
                "successor": name,
                "message": f"{shut}; this job runs on {name} ({wire_model(name, cfg)}) and is priced as {name}",
            }
        )
        current = CATALOG[name]
    else:
        raise ModelShutDown(f"{provider} was shut down by its provider and no successor is running")
    if (near := _near_shutdown(current, cfg, day)) is not None:
        warnings.append(near)
    return Resolved(provider, current.provider, wire_model(current.provider, cfg), tuple(warnings))


def describe(spec: ProviderSpec, cfg: LifecycleConfig) -> dict[str, Any]:
    """The lifecycle fields the ``providers`` query shows for ``spec``."""
    return {
        "lifecycle": state(spec, cfg.day()),
        "shutdown_date": spec.shutdown_date,
        "successor": successor(spec.provider, cfg),
        "successor_model": spec.successor_model,
        "wire_model": wire_model(spec.provider, cfg),
    }


def default_for(job_type: str, cfg: LifecycleConfig) -> str:
    """The provider a job that names none runs on: the catalogue's default while it (or its
    successor) runs, else the first provider of the type its provider still serves. (The default
    TTS provider's models shut down on 2027-01-06 with no successor on /v1/audio/speech.)"""
    default = default_provider(job_type)
    day = cfg.day()
    if state(default, day) != SHUT_DOWN or (cfg.policy == SUCCESSOR and successor(default.provider, cfg)):
        return default.provider
    running = [s.provider for s in CATALOG.values() if s.type == job_type and state(s, day) != SHUT_DOWN]
    return running[0] if running else default.provider


def ensure_served(provider: str, params: dict[str, Any], cfg: LifecycleConfig) -> None:
    """Before a job is sent: raise ``InvalidInputError`` (the job fails, free) when its model was
    shut down after the job was accepted, so the call that would die at the provider is never made.
    A wire model set by ``CH_PROVIDER_MODELS`` other than the catalogue's is the operator's call."""
    spec = CATALOG[provider]
    recorded = params.get("wire_model") or spec.wire_model
    if state(spec, cfg.day()) == SHUT_DOWN and recorded == spec.wire_model:
        assert spec.shutdown_date is not None
        raise InvalidInputError(
            f"{provider} ({recorded}) was shut down by its provider on {spec.shutdown_date.isoformat()} "
            f"after this job was accepted; nothing was charged: submit it again for {_replacement(spec, cfg)}",
            code="model_shut_down",
        )
