"""What goes over the wire to webhook receivers: Standard Webhooks signatures and headers, and the
rule that deliveries go only to public https addresses (checked on the resolved address)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from models.errors import DomainError, ErrorCode


def endpoint_secret(master_key: str, endpoint_id: str, version: int) -> str:
    """An endpoint's signing secret (``whsec_`` + 24 bytes, base64): derived, never stored."""
    digest = hmac.new(master_key.encode(), f"webhook:{endpoint_id}:{version}".encode(), hashlib.sha256)
    return "whsec_" + base64.b64encode(digest.digest()[:24]).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the base64 part of ``whsec_…``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers; during a secret rotation both signatures are sent."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
        "user-agent": "CreativeHub-Webhooks/1",
    }


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL's host, and (for public-only delivery) the checked address."""

    host: str
    address: str | None = None


MAX_URL_LENGTH = 2048  # also the column's size (models.webhooks)


def _invalid(message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, message, ["url"])


def parse_url(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The host and port of an acceptable endpoint URL (https only unless private URLs are allowed)."""
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _invalid("the URL is not valid") from None
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise _invalid("webhook URLs must use https")
    if not parts.hostname:
        raise _invalid("the URL has no host")
    if parts.username or parts.password:
        raise _invalid("the URL must not carry credentials")
    return parts.hostname, port


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Check an endpoint URL and, unless private addresses are allowed, resolve its host and insist
    that EVERY address is public (no loopback, private, link-local or reserved ranges). Delivery
    then connects to the checked address, so DNS cannot be switched between check and use."""
    host, port = parse_url(url, allow_private=allow_private)
    if allow_private:
        return Target(host=host)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise _invalid(f"the host {host!r} does not resolve") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise _invalid(f"the host {host!r} does not resolve")
    private = [a for a in addresses if not _is_public(a)]
    if private:
        raise _invalid(f"the host {host!r} resolves to a non-public address ({private[0]})")
    return Target(host=host, address=addresses[0])
