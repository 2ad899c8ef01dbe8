"""Hosts of their own for the tests: Linux network namespaces joined to this machine by veth pairs.

The scale-out test (tests/test_scale_out.py) runs ``python main.py serve`` on one "host" and
``python main.py worker`` on another: each in a network namespace made here (``ip netns``), with
an interface of its own, its own loopback and its own data directory. The two share nothing but
what the deployment shares: PostgreSQL, Redis and the S3 server (and they reach the providers).

The network::

    test process, PostgreSQL, Redis, SeaweedFS, simulator (this machine, on 127.0.0.1)
      |                                   |
      | <gw0>/30 ── veth ── <addr0>/30    | <gw1>/30 ── veth ── <addr1>/30
      |                 ns "api"          |                 ns "worker"

This machine is each namespace's router (its default route points at its own ``gw``). The shared
services stay where they are, on 127.0.0.1, and are neither reconfigured nor restarted: a
namespace cannot reach another's loopback, so :class:`Forwarder` (TCP relays in the test process,
on an event loop in a thread of its own) listens on :attr:`Network.hub` (the first pair's address
on this side, a local address every namespace reaches through its default route: no IP
forwarding is needed, and ``ip_forward`` is left as it is) and relays to the service. Each relay
records the addresses its connections came from, which is how a test sees which host called a
service (the provider simulator behind one is called only by the host that ran the jobs).

Names carry the test process's pid (``chn<pid>-<role>`` namespaces, ``chv<pid>x<n>`` interfaces),
so runs side by side never meet; :meth:`Network.close` removes everything it made, and a new
:class:`Network` first removes what a killed run (its pid gone) left behind. Making namespaces
needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): without it :class:`NetnsUnavailable` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from tests.conftest import REDIS_URL
from tests.production import postgres_database
from tests.s3_server import S3Server
from tests.stack import ROOT, Stack, backend_env, free_port

PREFIX = "chn"  # namespaces chn<pid>-<role>; host-side interfaces chv<pid>x<n>
# Where the /30s are carved from: private space this machine is checked not to use.
POOL = ipaddress.ip_network("10.213.0.0/16")
NETNS_DIR = Path("/run/netns")
_runs = itertools.count()


class NetnsUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, no ``ip``, no CAP_NET_ADMIN): the reason."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers() -> list[str]:
    """Namespaces and interfaces of this module whose run's process is gone (a killed test run)."""
    removed = []
    names = _ip("netns", "list", check=False).stdout.split()
    for name in names:
        match = re.fullmatch(rf"{PREFIX}(\d+)(?:r\d+)?-[a-z]+", name)
        if match and not _pid_alive(int(match.group(1))):
            _ip("netns", "delete", name, check=False)
            removed.append(name)
    links = _ip("-o", "link", "show", check=False).stdout
    for match in re.finditer(r"^\d+: (chv(\d+)(?:r\d+)?x\d+)[@:]", links, re.MULTILINE):
        if not _pid_alive(int(match.group(2))):
            _ip("link", "delete", match.group(1), check=False)
            removed.append(match.group(1))
    return removed


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 of :data:`POOL` that no address or route of this machine is in, picked by pid."""
    used = (
        _ip("-4", "-o", "addr", "show", check=False).stdout
        + _ip("-4", "route", "show", "table", "all", check=False).stdout
    )
    taken = [
        ipaddress.ip_network(m, strict=False) for m in re.findall(r"\b(\d+\.\d+\.\d+\.\d+(?:/\d+)?)", used)
    ]
    subnets = list(POOL.subnets(new_prefix=24))
    start = (os.getpid() * 7 + secrets.randbelow(64)) % len(subnets)
    for i in range(len(subnets)):
        candidate = subnets[(start + i) % len(subnets)]
        if not any(candidate.overlaps(net) for net in taken if net.prefixlen > 0):
            return candidate
    raise NetnsUnavailable(f"every /24 of {POOL} is in use on this machine")


@dataclass
class Host:
    """One namespace: ``address`` is where it is reached, ``gateway`` this machine's side."""

    role: str
    netns: str
    interface: str
    address: str
    gateway: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace (``ip netns exec`` execs it: the pid is the command's)."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def inode(self) -> int:
        """The namespace's identity, as ``/proc/<pid>/ns/net`` of a process in it shows."""
        return (NETNS_DIR / self.netns).stat().st_ino


def netns_inode(pid: int) -> int:
    """The network namespace process ``pid`` is in."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


@dataclass
class Network:
    """The namespaces of one test module; a context manager (see :func:`network`)."""

    hosts: dict[str, Host] = field(default_factory=dict)
    subnet: ipaddress.IPv4Network | None = None
    tag: str = ""

    @property
    def hub(self) -> str:
        """Where every namespace reaches this machine's relays (the first pair's address here)."""
        return next(iter(self.hosts.values())).gateway

    def add_host(self, role: str) -> Host:
        """A namespace for ``role`` joined to this machine by a veth pair of its own."""
        assert self.subnet is not None and re.fullmatch(r"[a-z]+", role) and role not in self.hosts
        index = len(self.hosts)
        pair = list(self.subnet.subnets(new_prefix=30))[index]
        gateway, address = (str(a) for a in list(pair.hosts())[:2])
        host = Host(role, f"{PREFIX}{self.tag}-{role}", f"chv{self.tag}x{index}", address, gateway)
        made = _ip("netns", "add", host.netns, check=False)
        if made.returncode != 0:
            raise NetnsUnavailable(f"`ip netns add` failed: {made.stderr.strip() or made.returncode}")
        self.hosts[role] = host  # from here on close() removes it
        entered = subprocess.run(host.command("true"), capture_output=True, text=True, timeout=30)
        if entered.returncode != 0:
            raise NetnsUnavailable(f"`ip netns exec` failed: {entered.stderr.strip() or entered.returncode}")
        inside = f"eth{index}"  # the interface name inside the namespace (at most 15 characters)
        _ip("link", "add", host.interface, "type", "veth", "peer", "name", inside, "netns", host.netns)
        _ip("addr", "add", f"{gateway}/30", "dev", host.interface)
        _ip("link", "set", host.interface, "up")
        _ip("-n", host.netns, "addr", "add", f"{address}/30", "dev", inside)
        _ip("-n", host.netns, "link", "set", inside, "up")
        _ip("-n", host.netns, "link", "set", "lo", "up")
        _ip("-n", host.netns, "route", "add", "default", "via", gateway)
        return host

    def close(self) -> None:
        """Delete the namespaces (their veth pairs go with them) and any interface left here."""
        for host in self.hosts.values():
            _ip("netns", "delete", host.netns, check=False)
            if _ip("link", "show", host.interface, check=False).returncode == 0:
                _ip("link", "delete", host.interface, check=False)
        self.hosts.clear()


@contextlib.contextmanager
def network(*roles: str) -> Iterator[Network]:
    """A namespace per role (the first one's gateway is :attr:`Network.hub`), all removed at the end,
    whatever happens. Raises :class:`NetnsUnavailable` when this machine cannot make them."""
    if shutil.which("ip") is None:
        raise NetnsUnavailable("no `ip` command (iproute2) on this machine")
    remove_leftovers()
    run = next(_runs)
    net = Network(tag=f"{os.getpid()}" + (f"r{run}" if run else ""))
    try:
        net.subnet = _free_subnet()
        for role in roles:
            net.add_host(role)
        yield net
    finally:
        net.close()


# ------------------------------------------------------------------------------------------------
# TCP relays


@dataclass
class Relay:
    """One listening relay: ``host:port`` here to ``target``; ``peers`` are the callers' addresses."""

    host: str
    port: int
    target: tuple[str, int]
    peers: set[str] = field(default_factory=set)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class Forwarder:
    """TCP relays on an event loop in a daemon thread of their own (the tests' loops come and go)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netns-relays", daemon=True)
        self._thread.start()
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    def relay(self, host: str, target: tuple[str, int], port: int = 0) -> Relay:
        """Listen on ``host:port`` (0: any free port) and relay every connection to ``target``."""
        return asyncio.run_coroutine_threadsafe(self._listen(host, port, target), self._loop).result(10)

    async def _listen(self, host: str, port: int, target: tuple[str, int]) -> Relay:
        relay = Relay(host, 0, target)

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            relay.peers.add(writer.get_extra_info("peername")[0])
            self._writers.add(writer)
            try:
                up_reader, up_writer = await asyncio.open_connection(*target)
            except OSError:
                writer.close()
                self._writers.discard(writer)
                return
            self._writers.add(up_writer)
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
            )
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)

        server = await asyncio.start_server(connected, host, port)
        self._servers.append(server)
        relay.port = int(server.sockets[0].getsockname()[1])
        return relay

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(256 * 1024):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():  # a half-close is passed on, the other way keeps going
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            for writer in list(self._writers):
                writer.close()
            for server in self._servers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 5)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


# ------------------------------------------------------------------------------------------------
# The service on two hosts

REDIS_DB = 14  # conftest's stacks use 11 and 12, tests/production.py 13; the queue is per run too


@dataclass
class ScaleOutStack(Stack):
    """``main.py serve`` on host "api" (``proc``), ``main.py worker`` on host "worker", the provider
    simulator here; both hosts on one PostgreSQL database, one Redis queue and one S3 prefix.

    ``env`` is the test process's view (PostgreSQL and Redis on 127.0.0.1, for :meth:`create_team`
    and :meth:`wait_listening`); ``host_env`` what each host's process got."""

    net: Network | None = None
    host_env: dict[str, dict[str, str]] = field(default_factory=dict)
    relays: dict[str, Relay] = field(default_factory=dict)
    worker: subprocess.Popen[bytes] | None = None
    s3: S3Server | None = None
    prefix: str = ""
    sim_direct: str = ""

    @property
    def simulator_url(self) -> str:
        return self.sim_direct  # the test process's own calls bypass the relay (its peers are the hosts)

    def host(self, role: str) -> Host:
        assert self.net is not None
        return self.net.hosts[role]

    def data_dir(self, role: str) -> Path:
        return Path(self.host_env[role]["CH_DATA_DIR"])

    def log(self, role: str) -> str:
        return self.log_path.with_name(f"{role}.log").read_text(errors="replace")

    def _spawn(self, role: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.log_path.with_name(f"{role}.log").open("ab")
        return subprocess.Popen(
            self.host(role).command(sys.executable, "main.py", *args),
            cwd=ROOT,
            env=self.host_env[role],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Deployed as README's "Deploying" says, on the two hosts: ``migrate`` (from host "api"),
        then ``serve`` on "api" and ``worker`` on "worker" side by side, until the API's /readyz
        answers here and arq has recorded the worker's health check in Redis (it polls the queue
        from then on)."""
        deadline = time.monotonic() + timeout
        migrate = self._spawn("api", "migrate")
        try:
            code = migrate.wait(timeout)
        except subprocess.TimeoutExpired:
            migrate.kill()
            migrate.wait(10)
            code = -1
        if code != 0:
            raise RuntimeError(f"migrate on host api failed ({code}):\n{self.log('api')[-4000:]}")
        self.proc = self._spawn("api", "serve")
        self.worker = self._spawn("worker", "worker")
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve on host api did not become ready:\n{self.log('api')[-4000:]}")
            time.sleep(0.05)
        check = redis.Redis.from_url(self.env["CH_REDIS_URL"])
        try:
            while not check.exists(f"{self.env['CH_QUEUE_NAME']}:health-check"):
                if self.worker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the worker on host worker did not start:\n{self.log('worker')[-4000:]}"
                    )
                time.sleep(0.05)
        finally:
            check.close()

    def wait_simulator(self, timeout: float = 60.0) -> None:
        assert self.simulator is not None
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.sim_direct}/_sim/stats", timeout=2).status_code == 200:
                    return
            if self.simulator.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the simulator did not start:\n{self.log('simulator')[-4000:]}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        return False

    def stop(self, *, simulator: bool = False) -> None:
        worker, self.worker = self.worker, None
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
        super().stop(simulator=simulator)


def _redis_or_skip() -> str:
    url = f"{REDIS_URL.rstrip('/')}/{REDIS_DB}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return url


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def _via(url: str, relay: Relay) -> str:
    """``url`` with its host and port replaced by the relay's (what a host connects to)."""
    parts = urlsplit(url)
    netloc = relay.address if "@" not in parts.netloc else parts.netloc.split("@")[0] + "@" + relay.address
    return parts._replace(netloc=netloc).geturl()


@contextlib.contextmanager
def scale_out(tmp: Path, s3: S3Server) -> Iterator[ScaleOutStack]:
    """The service on two hosts (namespaces "api" and "worker") sharing PostgreSQL (a database of
    its own), Redis (:data:`REDIS_DB`, a queue of its own) and ``s3`` (a prefix of its own); the
    simulator stands in for the providers. Everything it made is removed at the end, whatever
    happens. Raises :class:`NetnsUnavailable` where namespaces cannot be made (the caller skips);
    skips when PostgreSQL or Redis is not there, as the other stack tests do."""
    with contextlib.ExitStack() as cleanup:
        net = cleanup.enter_context(network("api", "worker"))  # first: where it cannot, nothing else starts
        redis_url = _redis_or_skip()
        database_url = cleanup.enter_context(postgres_database())
        relays = Forwarder()
        cleanup.callback(relays.close)
        sim_port = free_port()
        sim_direct = f"http://127.0.0.1:{sim_port}/simulator"
        relay = {
            "postgres": relays.relay(net.hub, _host_port(database_url)),
            "redis": relays.relay(net.hub, _host_port(redis_url)),
            "s3": relays.relay(net.hub, _host_port(s3.endpoint)),
            "simulator": relays.relay(net.hub, ("127.0.0.1", sim_port)),
        }
        api = net.hosts["api"]
        port = free_port()  # free here; the API's namespace has no other listener at all
        prefix = f"scale-out-{uuid.uuid4().hex[:8]}"
        shared = backend_env(tmp, _via(database_url, relay["postgres"]), _via(redis_url, relay["redis"]))
        shared.update(s3.env(prefix))
        shared.update(
            AWS_ENDPOINT_URL_S3=_via(s3.endpoint, relay["s3"]),
            CH_SIMULATOR_URL=_via(sim_direct, relay["simulator"]),
            CH_PORT=str(port),
            CH_PUBLIC_URL=f"http://{api.address}:{port}",  # signed file URLs lead to the API host
            CH_SECRET_KEY=secrets.token_urlsafe(48),  # one deployment: URLs signed anywhere verify anywhere
        )
        host_env = {}
        for role, host in net.hosts.items():
            (tmp / role).mkdir()
            host_env[role] = {**shared, "CH_HOST": host.address, "CH_DATA_DIR": str(tmp / role)}
        view = {**shared, "CH_DATABASE_URL": database_url, "CH_REDIS_URL": redis_url, "CH_DATA_DIR": str(tmp)}
        stack = ScaleOutStack(
            env=view,
            url=f"http://{api.address}:{port}",
            log_path=tmp / "api.log",
            net=net,
            host_env=host_env,
            relays=relay,
            s3=s3,
            prefix=prefix,
            sim_direct=sim_direct,
        )
        cleanup.callback(stack.stop, simulator=True)  # before the relays and namespaces go
        stack.simulator = subprocess.Popen(
            [sys.executable, "main.py", "simulator", "--port", str(sim_port)],
            cwd=ROOT,
            env={**shared, "CH_HOST": "127.0.0.1"},
            stdout=(tmp / "simulator.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        stack.start()  # while the simulator starts
        stack.wait_simulator()
        yield stack
