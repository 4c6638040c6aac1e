"""The Dapr sidecar beside this process, reached over its HTTP API on localhost.

daprd sets DAPR_HTTP_PORT in the app's environment (the Kubernetes injector does; scripts and
tests running daprd by hand pass it on). A process that finds the variable relies on the sidecar
for secrets, state and jobs, so it waits for the sidecar to load its components rather than
falling back to something else: silently using a local default database would be worse than
failing.
"""

from __future__ import annotations

import os
import time

import urllib3

HTTP_PORT_ENV = "DAPR_HTTP_PORT"
# daprd loads its components in about a second; a cold cluster node may take much longer.
READY_TIMEOUT_SECONDS = 120.0
_POLL_SECONDS = 0.25


class SidecarUnavailable(RuntimeError):
    pass


def get(url: str, *, timeout: float) -> urllib3.BaseHTTPResponse:
    """One GET to the sidecar (loopback: no proxy, no redirect, no retry) on a connection closed
    afterwards, as `requests.get` did: none is kept across gunicorn's fork. Raises
    SidecarUnavailable when it cannot be reached; any answer is returned, body read."""
    try:
        with urllib3.PoolManager(retries=False) as http:
            return http.request("GET", url, timeout=timeout, redirect=False)
    except urllib3.exceptions.HTTPError as error:
        raise SidecarUnavailable(f"the Dapr sidecar is unreachable: {error}") from None


def sidecar_url(http_port: str) -> str:
    return f"http://127.0.0.1:{http_port}"


def sidecar_from_env() -> str | None:
    """The sidecar's base URL when DAPR_HTTP_PORT is set, else None (no Dapr here)."""
    port = os.environ.get(HTTP_PORT_ENV)
    return sidecar_url(port) if port else None


def wait_until_ready(base_url: str, *, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Block until the sidecar has loaded its components (`/v1.0/healthz/outbound`).

    The outbound check, not `/v1.0/healthz`: the latter also waits for the app to be reachable,
    and the app is the one asking (it reads its secrets before it can serve)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if get(f"{base_url}/v1.0/healthz/outbound", timeout=2).status == 204:
                return
        except SidecarUnavailable:
            pass
        if time.monotonic() > deadline:
            raise SidecarUnavailable(f"the Dapr sidecar at {base_url} was not ready in {timeout}s")
        time.sleep(_POLL_SECONDS)
