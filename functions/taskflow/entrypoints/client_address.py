"""The address of the client behind a request, for the per-client limit of sign-up and login.

Each proxy in front of the web app (a cloud load balancer, the ingress, Knative's activator and
queue-proxy) appends the address it received the request from to X-Forwarded-For. Walking from
the peer that connected to us leftwards through that list, every address inside a trusted range is
one of our proxies; the first one outside is the client. Entries further left were written by the
client itself and are never believed, so a client cannot pick its own bucket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from taskflow.config import Network


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """`peer`: the address that connected (remote_addr); `forwarded_for`: every X-Forwarded-For
    header of the request, in order."""
    chain = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    address = peer or ""
    while chain and _is_trusted(address, trusted):
        address = chain.pop()
    return address


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)
