"""`just up --dapr` numbers its sidecars' ports from one base, and the tests reserve that span
before starting it: a sidecar port outside the span, or one handed out twice, is a daprd that
dies at start with "bind: address already in use"."""

from __future__ import annotations

import socket

from taskflow.config import FUNCTIONS, Ports
from taskflow_dev.local.dapr import PORT_SPAN, sidecars
from taskflow_dev.local.launch import free_port, free_port_block


def test_every_sidecar_port_is_distinct_and_inside_the_span() -> None:
    base = 14_000
    cars = sidecars(Ports(), base)
    ports = [
        port for car in cars for port in (car.http_port, car.grpc_port, car.internal_grpc_port)
    ]
    assert len(cars) == 1 + len(FUNCTIONS)  # the web app and each function
    assert len(set(ports)) == len(ports) == 3 * len(cars)
    assert all(base < port <= base + PORT_SPAN for port in ports)


def test_a_reserved_block_is_free_and_never_handed_out_again() -> None:
    first = free_port_block(PORT_SPAN)
    block = set(range(first, first + PORT_SPAN))
    for port in block:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
    assert block.isdisjoint(free_port() for _ in range(500))
