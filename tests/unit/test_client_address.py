"""Which address a sign-up or login counts against (the per-client limit): the first address,
from the connecting peer leftwards through X-Forwarded-For, outside the trusted proxy ranges."""

from __future__ import annotations

import pytest
from taskflow.config import LOOPBACK, parse_networks
from taskflow.entrypoints.client_address import client_address

CLUSTER = parse_networks("127.0.0.0/8, 10.0.0.0/8")


def test_a_direct_client_is_its_peer_address_whatever_it_forwards() -> None:
    assert client_address("203.0.113.5", ["198.51.100.1"], LOOPBACK) == "203.0.113.5"


def test_behind_the_clusters_proxies_the_client_is_the_entry_the_first_proxy_appended() -> None:
    # ingress appended the client, the activator appended the ingress; queue-proxy is the peer.
    forwarded = ["192.0.2.66, 203.0.113.5, 10.1.2.3", "10.4.5.6"]
    assert client_address("127.0.0.1", forwarded, CLUSTER) == "203.0.113.5"


def test_a_client_without_proxies_in_front_and_without_forwarding_is_its_peer() -> None:
    assert client_address("127.0.0.1", [], LOOPBACK) == "127.0.0.1"


def test_trusted_ranges_must_be_cidr() -> None:
    with pytest.raises(ValueError, match="TASKFLOW_TRUSTED_PROXIES"):
        parse_networks("10.0.0.0/8, not-a-range")
