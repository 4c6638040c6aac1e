"""POST a CloudEvent to a user's webhook (binary mode: the body is the event's JSON data, the
ce-* headers carry its id and type so the receiver can drop duplicates).

The URL is the user's, so it must not reach what only the product can reach (issue 12, item 3:
server-side request forgery): loopback, link-local (169.254.169.254 is a cloud's metadata
service), private, reserved, multicast and unspecified addresses are refused, IPv4 and IPv6
alike (an IPv4-mapped IPv6 address counts as its IPv4 one). The API checks a URL when it is
saved (`refused_address`); the connection checks again against the address the name resolves
to at send time, and connects to exactly that address, so a name that resolves elsewhere later
(DNS rebinding) is refused too. `allow_local` (config.Settings.webhook_allow_local) lets a
developer deliver to a local server, and nothing else does.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import certifi
import urllib3
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookFailed(Exception):
    """The webhook did not take the event; the sender should retry later."""


class WebhookRefused(WebhookFailed):
    """The webhook's address is one no user may make the product call: retrying cannot help."""


def forbidden_address(address: IPAddress) -> str | None:
    """Why the product must not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for refused, why in (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata)"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "shared or special-purpose"),
    ):
        if refused:
            return f"{address} is not a public address ({why})"
    return None


def _resolved(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # A scoped IPv6 address (fe80::1%eth0) carries its zone after %.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def refused_address(url: str, *, allow_local: bool) -> str | None:
    """Save time: why `url` may not be a webhook, or None. A name that does not resolve now is
    let through (it may exist later); send time checks every delivery anyway."""
    if allow_local:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = _resolved(host, parts.port or 443)
        except (OSError, UnicodeError, ValueError):
            return None
    return next((why for a in addresses if (why := forbidden_address(a))), None)


class _AddressRefused(OSError):
    pass


class _CheckedAddress:
    """Resolves the host once, refuses a forbidden address, and connects to the checked one:
    TLS still verifies the certificate against the URL's host name (self.host)."""

    allow_local = False
    _dns_host: str
    port: int

    def _new_conn(self) -> socket.socket:
        try:
            addresses = _resolved(self._dns_host, self.port)
        except socket.gaierror:
            addresses = []  # urllib3 reports the name error itself below
        if not self.allow_local:
            for address in addresses:
                why = forbidden_address(address)
                if why is not None:
                    raise _AddressRefused(why)
        if not addresses:
            return super()._new_conn()  # type: ignore[misc]
        named = self._dns_host
        self._dns_host = str(addresses[0])
        try:
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = named


class _CheckedHTTPConnection(_CheckedAddress, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedAddress, HTTPSConnection):
    pass


class _LocalHTTPConnection(_CheckedHTTPConnection):
    allow_local = True


class _LocalHTTPSConnection(_CheckedHTTPSConnection):
    allow_local = True


def _pool_manager(allow_local: bool) -> urllib3.PoolManager:
    """urllib3 directly (requests' import was 4 MiB of every cold start): its PoolManager reads
    no proxy from the environment, which would make the connection's check look at the proxy.
    TLS verifies certificates against certifi's CAs, as requests did."""
    http, https = (
        (_LocalHTTPConnection, _LocalHTTPSConnection)
        if allow_local
        else (_CheckedHTTPConnection, _CheckedHTTPSConnection)
    )
    manager = urllib3.PoolManager(retries=False, ca_certs=certifi.where())
    manager.pool_classes_by_scheme = {
        "http": type("CheckedPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("CheckedTLSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }
    return manager


def post_event(url: str, event: CloudEvent, *, allow_local: bool = False) -> None:
    headers, body = to_binary(event)
    try:
        with _pool_manager(allow_local) as http:
            response = http.request(
                "POST",
                url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
                redirect=False,
            )
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
        refusal = _refusal_in(error)
        if refusal is not None:
            raise WebhookRefused(f"webhook address refused: {refusal}") from None
        # The URL is the user's: name the failure, not the address, in logs and answers.
        raise WebhookFailed(f"webhook unreachable: {type(error).__name__}") from None
    if not 200 <= response.status < 300:
        raise WebhookFailed(f"webhook answered {response.status}")


def _refusal_in(error: BaseException) -> str | None:
    """The _AddressRefused inside the layers urllib3 wraps around it."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _AddressRefused):
            return str(current)
        todo.extend([current.__cause__, current.__context__, *_inner(current)])
    return None


def _inner(error: BaseException) -> list[BaseException]:
    found = [arg for arg in error.args if isinstance(arg, BaseException)]
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        found.append(reason)
    return found
