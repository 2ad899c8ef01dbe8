"""A production deployment for the tests, done the way README's "Deploying" section says.

``python main.py migrate``, then ``python main.py serve`` and ``python main.py worker`` as
separate processes with ``CH_ENV=production`` on a fresh PostgreSQL database and the real Redis
(a queue of its own). The providers are what production calls: each family's
``<FAMILY>_API_KEY`` and an https ``<FAMILY>_BASE_URL``, answered here by ``python main.py
simulator`` in a process of its own, serving TLS with a certificate from a throwaway CA that the
service trusts through the standard ``SSL_CERT_FILE`` (as an operator would add a private CA).

:func:`production_stack` is the reusable piece: a test that restarts Redis or PostgreSQL under
load, or runs several workers, builds on it (``stop_workers``/``start_workers``,
``stop_serve``/``start_serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import trustme

from providers.credentials import PROVIDER_FAMILIES
from providers.registry import SIMULATOR_API_KEY
from providers.simulator import SIMULATOR_BASE_PATHS
from tests.conftest import POSTGRES_URL, REDIS_URL, _admin_pg, _postgres_database
from tests.stack import ROOT, Stack, Team, free_port

# The name the simulator's certificate is for, and the host the providers' URLs use; their output
# links redirect to the simulated CDN on a second host (providers/simulator/files.py), which
# production allows through <FAMILY>_OUTPUT_HOSTS as an operator lists a provider's CDN.
PROVIDER_HOST = "localhost"
CDN_HOST = "127.0.0.1"
PRODUCTION_REDIS_DB = 13  # conftest's stacks use 11 and 12; queues are per run anyway


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class ProductionStack(Stack):
    """``serve`` (``proc``), the workers and the TLS provider simulator, each a process of its own.

    ``env`` is the production environment every command of the deployment gets (``cli`` runs
    ``admin`` commands with it); ``sim_env`` the simulator's (a stand-in for the providers, so
    development mode)."""

    sim_env: dict[str, str] = field(default_factory=dict)
    sim_root: str = ""
    ca_bundle: str = ""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def simulator_url(self) -> str:
        return self.sim_root

    @property
    def database_url(self) -> str:
        return self.env["CH_DATABASE_URL"]

    @property
    def redis_url(self) -> str:
        return self.env["CH_REDIS_URL"]

    def _verify(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_bundle)

    def _spawn(self, args: list[str], log_name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.log_path.with_name(log_name).open("ab")
        return subprocess.Popen(
            [sys.executable, "main.py", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def spawn_simulator(self) -> None:
        port = self.sim_root.rsplit(":", 1)[1].split("/")[0]
        cert = str(self.log_path.with_name("provider-cert.pem"))
        self.simulator = self._spawn(
            ["simulator", "--port", port, "--tls-cert", cert], "simulator.log", self.sim_env
        )

    def wait_simulator(self, timeout: float = 30.0) -> None:
        assert self.simulator is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.simulator.poll() is not None:
                raise RuntimeError("the simulator exited early")
            with contextlib.suppress(httpx.HTTPError):
                if self.sim_stats().get("tasks") is not None:
                    return
            time.sleep(0.1)
        raise RuntimeError("the simulator did not start")

    def start_simulator(self, timeout: float = 30.0) -> None:
        self.spawn_simulator()
        self.wait_simulator(timeout)

    def sim_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(
            f"{self.sim_root}/_sim/stats", timeout=10, verify=self._verify()
        ).json()
        return stats

    def create_team(self, credits_cents: int, *, via_cli: bool = True) -> Team:
        """As an operator of the deployment does it: ``python main.py admin create-team``."""
        return super().create_team(credits_cents, via_cli=via_cli)

    def migrate(self) -> dict[str, Any]:
        return self.cli("migrate")

    def spawn_serve(self) -> None:
        self.proc = self._spawn(["serve"], self.log_path.name, self.env)

    def wait_serve(self, timeout: float = 60.0) -> None:
        """Until ``/readyz`` answers 200 (database and Redis reachable)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"serve did not become ready:\n{self.log_tail()}")

    def start_serve(self, timeout: float = 60.0) -> None:
        """``python main.py serve``, until it is ready."""
        self.spawn_serve()
        self.wait_serve(timeout)

    def start_workers(self, count: int = 1) -> None:
        for _ in range(count):
            self.workers.append(self._spawn(["worker"], f"worker-{len(self.workers)}.log", self.env))

    def start(self, timeout: float = 60.0) -> None:  # the API and one worker (Stack.start runs dev)
        self.start_serve(timeout)
        self.start_workers()

    def stop_serve(self) -> None:
        _stop(self.proc)

    def stop_workers(self) -> None:
        for worker in self.workers:
            _stop(worker)
        self.workers.clear()

    def stop(self, *, simulator: bool = False) -> None:
        self.stop_serve()
        self.stop_workers()
        if simulator:
            _stop(self.simulator)

    def worker_log(self, index: int = 0) -> str:
        return self.log_path.with_name(f"worker-{index}.log").read_text(errors="replace")


def redis_url_or_skip() -> str:
    """The real Redis (production has no embedded one); the test is skipped when none answers."""
    url = f"{REDIS_URL.rstrip('/')}/{PRODUCTION_REDIS_DB}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return url


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (dropped at the end); the test is skipped when unreachable."""
    name = _postgres_database()
    if name is None:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _base_env() -> dict[str, str]:
    """The test runner's environment without any Creative Hub or provider setting."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CH_")
        and not k.endswith(("_API_KEY", "_BASE_URL", "_ACCESS_KEY", "_SECRET_KEY", "_OUTPUT_HOSTS"))
    }


def production_env(
    tmp: Path, *, database_url: str, redis_url: str, provider_root: str, ca_bundle: str
) -> dict[str, str]:
    """The settings README's "Deploying" lists, with every provider family pointed at
    ``provider_root`` (https) and its outputs allowed from there and the simulated CDN only."""
    env = _base_env()
    env.update(
        CH_ENV="production",
        CH_SECRET_KEY=secrets.token_urlsafe(48),
        CH_DATABASE_URL=database_url,
        CH_REDIS_URL=redis_url,
        CH_QUEUE_NAME=f"creative_hub:prod-test:{uuid.uuid4().hex}",
        CH_PORT=str(free_port()),
        CH_DATA_DIR=str(tmp / "data"),
        CH_POLL_INTERVAL_SCALE="0.02",
        SSL_CERT_FILE=ca_bundle,  # how an operator trusts a private CA; httpx reads it
        PYTHONUNBUFFERED="1",
    )
    for family, (key_vars, base_var, _) in PROVIDER_FAMILIES.items():
        for key_var in key_vars:  # Kling: KLING_ACCESS_KEY and KLING_SECRET_KEY
            env[key_var] = SIMULATOR_API_KEY
        env[base_var] = provider_root + SIMULATOR_BASE_PATHS[family]
        env[f"{family.upper()}_OUTPUT_HOSTS"] = f"{PROVIDER_HOST},{CDN_HOST}"
    return env


@contextlib.contextmanager
def production_stack(tmp: Path, *, workers: int = 1, **settings: str) -> Iterator[ProductionStack]:
    """Deployed as README says: the providers (the TLS simulator), ``migrate``, then ``serve`` and
    ``workers`` worker processes; everything stopped (and the database dropped) at the end.
    ``settings`` are extra environment variables for the deployment (e.g. ``CH_WORKER_MAX_JOBS``)."""
    redis_url = redis_url_or_skip()
    with postgres_database() as database_url:
        ca = trustme.CA()
        bundle = tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        ca.issue_cert(PROVIDER_HOST, CDN_HOST).private_key_and_cert_chain_pem.write_to_path(
            str(tmp / "provider-cert.pem")
        )
        provider_root = f"https://{PROVIDER_HOST}:{free_port()}/simulator"
        env = production_env(
            tmp,
            database_url=database_url,
            redis_url=redis_url,
            provider_root=provider_root,
            ca_bundle=str(bundle),
        )
        env.update(settings)
        sim_env = {
            **_base_env(),
            "CH_HOST": "127.0.0.1",
            "CH_SIMULATOR_TIME_SCALE": "0.02",
            "PYTHONUNBUFFERED": "1",
        }
        stack = ProductionStack(
            env=env,
            url=f"http://127.0.0.1:{env['CH_PORT']}",
            log_path=tmp / "serve.log",
            sim_env=sim_env,
            sim_root=provider_root,
            ca_bundle=str(bundle),
        )
        try:
            # In README's order; processes that do not depend on each other start side by side.
            stack.spawn_simulator()
            stack.migrate()
            stack.spawn_serve()
            stack.start_workers(workers)
            stack.wait_serve()
            stack.wait_simulator()
            yield stack
        finally:
            stack.stop(simulator=True)
