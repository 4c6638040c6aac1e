"""Keep-alive HTTP connections for the calls between TaskFlow's own services (the API's and the
MCP server's commands, the outbox relay's publishes, the router's deliveries).

`requests.post` builds a new Session and opens a new connection on every call, and a Session
reads proxy settings and `.netrc` from the environment on every request; requests' own layer over
urllib3 costs about as much again as the call itself. Measured on the benchmark machine against a
local server: 1.10 ms of the caller's CPU per `requests.post`, 0.79 ms per call on a kept Session
that ignores the environment, 0.50 ms on urllib3's pool (specs/benchmarks.md, throughput). These
calls need no more than a POST and its answer, so they use urllib3's pool directly: it is
thread-safe and keeps connections open. They go to loopback or in-cluster addresses, which no
proxy is meant for.

A pool opens its connections on its first request, so one built before gunicorn forks (the
API's app) shares no socket with the worker; bootstrap.py builds the publisher on first use
anyway.
"""

from __future__ import annotations

import urllib3

# Concurrent calls to one host beyond this open extra connections that are closed after use.
CONNECTIONS_PER_HOST = 64


def connection_pool() -> urllib3.PoolManager:
    """A pool that never retries by itself: each caller has its own retry policy."""
    return urllib3.PoolManager(maxsize=CONNECTIONS_PER_HOST, retries=False)
