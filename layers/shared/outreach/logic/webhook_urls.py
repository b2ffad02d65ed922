"""Where a webhook may point: https, to public addresses only (checked on the resolved address).

A webhook URL is chosen by the client and fetched by the service, so it must
not reach the service's own network: private, loopback, link-local (the
instance metadata service lives there), shared, multicast and reserved
addresses are refused, at dispatch and again at delivery (DNS can change in
between). ``WEBHOOK_ALLOW_LOOPBACK`` (local development only) also allows
loopback addresses, over http too.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from outreach.errors import Unprocessable

MAX_URL_CHARS = 2048
# Metadata endpoints that are not caught by the range checks below on every platform.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class InvalidWebhookUrl(Unprocessable):
    code = "invalid_webhook_url"


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA:
        return False
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def resolve_webhook_url(url: str, *, allow_loopback: bool) -> tuple[str, int, list[str]]:
    """(host, port, addresses to connect to), or InvalidWebhookUrl saying why not."""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise InvalidWebhookUrl("The webhook URL's port is not valid.") from None
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidWebhookUrl("The webhook URL must be an https:// URL with a host.")
    if parts.username or parts.password:
        raise InvalidWebhookUrl("The webhook URL must not carry credentials.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InvalidWebhookUrl("The webhook URL's host does not resolve.") from None
    addresses = sorted({info[4][0] for info in infos})
    parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not parsed or not all(_allowed(a, allow_loopback) for a in parsed):
        raise InvalidWebhookUrl(
            "The webhook URL must resolve to public addresses only (not private, loopback, link-local or metadata)."
        )
    if parts.scheme == "http" and not (allow_loopback and all(a.is_loopback for a in parsed)):
        raise InvalidWebhookUrl("The webhook URL must be an https:// URL.")
    return host, port, addresses
