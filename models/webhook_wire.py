"""What goes over the wire to webhook receivers: Standard Webhooks signatures and headers, and the
rule that deliveries go only to public https addresses (checked on the resolved address)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Collection
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


def parse_url(url: str, *, allow_private: bool, allowed_ports: Collection[int] = ()) -> tuple[str, int]:
    """The host and port of an acceptable endpoint URL: https on port 443 (or one of
    ``allowed_ports``), unless private URLs are allowed (development), where http and any port are."""
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
    if not allow_private and port != 443 and port not in allowed_ports:
        ports = ", ".join(str(p) for p in sorted({443, *allowed_ports}))
        raise _invalid(f"webhook URLs must use port {ports} (not {port})")
    return parts.hostname, port


# IPv6 ranges that carry an IPv4 address. The translated ones are checked by the IPv4 address they
# lead to: IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96, RFC 6052), 6to4 (2002::/16).
# Refused whatever they carry: IPv4-compatible (::a.b.c.d, deprecated, never routed), local-use
# NAT64 (64:ff9b:1::/48, RFC 8215, a private network's own translator), IPv4-translated
# (::ffff:0:a.b.c.d, RFC 2765 SIIT: Python calls it global) and Teredo (2001::/32).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
TEREDO = ipaddress.IPv6Network("2001::/32")
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")


def _public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_public(address: str) -> bool:
    """Whether a webhook may connect to this address: a public unicast one, and for an IPv6
    address that embeds an IPv4 address, the embedded address public too."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return _public_ip(ip)
    if ip.ipv4_mapped is not None:
        return _public_ip(ip.ipv4_mapped)
    if any(ip in net for net in (IPV4_COMPATIBLE, IPV4_TRANSLATED, NAT64_LOCAL_USE, TEREDO)):
        return False
    if ip in NAT64:
        return _public_ip(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        return _public_ip(ip.sixtofour) and _public_ip(ip)
    return _public_ip(ip)


async def resolve(url: str, *, allow_private: bool, allowed_ports: Collection[int] = ()) -> Target:
    """Check an endpoint URL and, unless private addresses are allowed, resolve its host and insist
    that EVERY address is public (no loopback, private, link-local or reserved ranges, also not
    inside an IPv6 address: :func:`is_public`). Delivery then connects to the checked address, so
    DNS cannot be switched between check and use."""
    host, port = parse_url(url, allow_private=allow_private, allowed_ports=allowed_ports)
    if allow_private:
        return Target(host=host)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise _invalid(f"the host {host!r} does not resolve") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise _invalid(f"the host {host!r} does not resolve")
    private = [a for a in addresses if not is_public(a)]
    if private:
        raise _invalid(f"the host {host!r} resolves to a non-public address ({private[0]})")
    return Target(host=host, address=addresses[0])
