"""Where webhooks may go, and how delivery there fails: the public-address rule (IPv4 addresses
hidden in IPv6 ones, ports other than 443), delivery errors that do not tell open ports from closed,
and delivery over https to a checked address (tasks.webhooks._post).

In production an endpoint's host is resolved once, every address must be public, and the request
then goes to that checked address, so DNS cannot switch it between check and use. The TLS side must
still be about the host name: the certificate is verified against the endpoint's host (sent as
SNI), and the request names it in ``Host``. No public address is reachable from the test machine, so
the public-address check's answer is given here (``resolve``); everything after it is real: the
service's own HTTP client, a TLS server, certificates from a test CA trusted through the standard
``SSL_CERT_FILE``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import trustme

from models.errors import DomainError
from models.webhook_wire import Target, resolve
from services.container import http_client
from tasks import webhooks as delivery
from tests.webhook_receiver import running_receiver

HOST = "hooks.partner.example"


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # how an operator adds a CA; httpx reads it
    return authority


def _pem(tmp_path: Path, ca: trustme.CA, name: str) -> str:
    path = tmp_path / f"{name}.pem"
    ca.issue_cert(name).private_key_and_cert_chain_pem.write_to_path(str(path))
    return str(path)


def _pinned(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, bool]]) -> None:
    """The public-address check, answering that HOST resolved to (what is in fact) 127.0.0.1."""

    async def resolve(url: str, *, allow_private: bool, allowed_ports: object = ()) -> Target:
        calls.append((url, allow_private))
        return Target(host=HOST, address="127.0.0.1")

    monkeypatch.setattr(delivery, "resolve", resolve)


def _services(client: httpx.AsyncClient) -> Any:
    return SimpleNamespace(
        http=client, settings=SimpleNamespace(webhooks_allow_private_urls=False, webhook_allowed_ports=[])
    )


async def test_https_delivery_goes_to_the_checked_address_with_the_hosts_name_and_certificate(
    tmp_path: Path, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, bool]] = []
    _pinned(monkeypatch, calls)
    body = json.dumps({"type": "job.completed", "data": {}}).encode()
    async with running_receiver(tls_pem=_pem(tmp_path, ca, HOST), host=HOST) as receiver:
        assert receiver.url.startswith(f"https://{HOST}:")  # a name that resolves nowhere here
        async with http_client() as client:
            response = await delivery._post(_services(client), receiver.url, {"webhook-id": "msg_1"}, body)
        assert response.status_code == 204
        assert calls == [(receiver.url, False)]  # checked, public addresses only
        [got] = receiver.received
        port = receiver.url.split(":")[2].split("/")[0]
        assert got.headers["host"] == f"{HOST}:{port}"
        assert got.raw == body and got.webhook_id == "msg_1"


async def test_https_delivery_refuses_a_certificate_for_another_name(
    tmp_path: Path, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection goes to an address, but a certificate valid only for that address's other
    tenant (or for nothing of ours) is refused: the name checked is the endpoint's host."""
    _pinned(monkeypatch, [])
    async with running_receiver(tls_pem=_pem(tmp_path, ca, "someone-else.example"), host=HOST) as receiver:
        async with http_client() as client:
            with pytest.raises(httpx.ConnectError) as refused:
                await delivery._post(_services(client), receiver.url, {}, b"{}")
        assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
        assert f"not valid for '{HOST}'" in str(refused.value)  # checked against the host's name
        assert receiver.attempts == []  # nothing was sent to it


# -- webhook targets -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::808:808",  # local-use NAT64: a private network's own translator
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT, RFC 2765) of 127.0.0.1
        "::ffff:0:a9fe:a9fe",  # IPv4-translated of 169.254.169.254
    ],
)
async def test_webhook_rule_checks_the_ipv4_address_inside_an_ipv6_one(address: str) -> None:
    with pytest.raises(DomainError) as refused:
        await resolve(f"https://[{address}]/hook", allow_private=False)
    assert refused.value.field == ["url"] and "non-public" in refused.value.message


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111"])
async def test_webhook_rule_still_accepts_public_addresses(address: str) -> None:
    target = await resolve(f"https://[{address}]/hook", allow_private=False)
    assert target.address == address


async def test_webhook_urls_use_port_443_or_an_allowed_one() -> None:
    for url in (
        "https://93.184.216.34:22/hook",
        "https://93.184.216.34:6379/",
        "https://93.184.216.34:8443/",
    ):
        with pytest.raises(DomainError) as refused:
            await resolve(url, allow_private=False)
        assert "port 443" in refused.value.message and refused.value.field == ["url"]
    assert (await resolve("https://93.184.216.34/hook", allow_private=False)).address == "93.184.216.34"
    assert (await resolve("https://93.184.216.34:443/", allow_private=False)).address == "93.184.216.34"
    allowed = await resolve("https://93.184.216.34:8443/", allow_private=False, allowed_ports=[8443])
    assert allowed.address == "93.184.216.34"
    # Development (private addresses allowed): the tests' local receivers listen on any port.
    assert (await resolve("http://127.0.0.1:8001/hook", allow_private=True)).host == "127.0.0.1"


@contextlib.asynccontextmanager
async def _tcp_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
) -> AsyncIterator[int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()  # closes at once (a reset once the request arrives)


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)  # accepts and never answers (a port that waits for its own protocol)


async def _ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")  # speaks something else
    await writer.drain()
    await asyncio.sleep(30)


async def _http_500(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


def _free_closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


async def test_delivery_errors_do_not_tell_open_ports_from_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "ATTEMPT_TIMEOUT", httpx.Timeout(0.5))
    settings = SimpleNamespace(webhooks_allow_private_urls=True, webhook_allowed_ports=[])
    errors: dict[str, str | None] = {}
    async with http_client() as client:
        services: Any = SimpleNamespace(http=client, settings=settings)

        async def attempt(port: int) -> tuple[int | None, str | None]:
            return await delivery.attempt(services, f"http://127.0.0.1:{port}/hook", {}, b"{}")

        assert await attempt(_free_closed_port()) == (None, "connection failed")
        for name, handler in (("reset", _reset), ("silent", _silent), ("ssh", _ssh), ("500", _http_500)):
            async with _tcp_server(handler) as port:
                status, errors[name] = await attempt(port)
                assert status == (500 if name == "500" else None)
    assert errors == {
        "reset": "connection failed",
        "silent": "connection failed",
        "ssh": "connection failed",
        "500": "the receiver answered HTTP 500",
    }


async def test_delivery_error_names_a_refused_certificate(
    tmp_path: Path,
    ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _pinned(monkeypatch, [])
    async with running_receiver(
        tls_pem=_pem(tmp_path, ca, "someone-else.example"), host="hooks.partner.example"
    ) as r:
        async with http_client() as client:
            services: Any = SimpleNamespace(
                http=client,
                settings=SimpleNamespace(webhooks_allow_private_urls=False, webhook_allowed_ports=[]),
            )
            status, error = await delivery.attempt(services, r.url, {}, b"{}")
    assert status is None and error is not None and error.startswith("tls error")


async def test_a_receiver_dripping_its_answer_cannot_hold_an_attempt_past_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A receiver that answers a byte at a time, each within the read timeout, kept an attempt (and
    a worker) for as long as it liked: past the delivery's lease, when the sweep hands the delivery
    to a second worker and the event goes out twice. An attempt has a whole-attempt deadline, shorter
    than the lease."""
    monkeypatch.setattr(delivery, "ATTEMPT_TIMEOUT", httpx.Timeout(0.5))
    monkeypatch.setattr(delivery, "ATTEMPT_DEADLINE_SECONDS", 1.0)
    dripping = asyncio.Event()

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        for _ in range(100):  # a byte every 0.2 s: each read is within the 0.5 s read timeout
            writer.write(b"x")
            await writer.drain()
            dripping.set()
            await asyncio.sleep(0.2)

    settings = SimpleNamespace(webhooks_allow_private_urls=True, webhook_allowed_ports=[])
    async with http_client() as client, _tcp_server(drip) as port:
        services: Any = SimpleNamespace(http=client, settings=settings)
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, error = await asyncio.wait_for(
            delivery.attempt(services, f"http://127.0.0.1:{port}/hook", {}, b"{}"), timeout=10
        )
        took = loop.time() - started
    assert dripping.is_set()
    assert (status, error) == (None, "connection failed")  # plain http: as failure_class words it
    assert took < 3, took
    assert delivery.ATTEMPT_DEADLINE_SECONDS < delivery.LEASE.total_seconds()
