"""Webhook delivery over https to a checked address (tasks.webhooks._post).

In production an endpoint's host is resolved once, every address must be public, and the request
then goes to that checked address, so DNS cannot switch it between check and use. The TLS side must
still be about the host name: the certificate is verified against the endpoint's host (sent as
SNI), and the request names it in ``Host``. No public address is reachable from the test machine, so
the public-address check's answer is given here (``resolve``); everything after it is real: the
service's own HTTP client, a TLS server, certificates from a test CA trusted through the standard
``SSL_CERT_FILE``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import trustme

from models.webhook_wire import Target
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
