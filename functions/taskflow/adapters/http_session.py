"""Keep-alive HTTP sessions for the calls between TaskFlow's own services.

`requests.post` builds a new Session and opens a new connection on every call, and a Session
reads proxy settings and `.netrc` from the environment on every request: together about a third
of create-task's CPU per command and two fifths of the router's (specs/benchmarks.md,
throughput). One Session per thread reuses its connections and is never shared between threads
(requests does not promise that a Session is thread-safe). These calls go to loopback or
in-cluster addresses, which no proxy or `.netrc` entry is meant for, so the environment is not
consulted.
"""

from __future__ import annotations

import threading

import requests

_per_thread = threading.local()


def for_this_thread() -> requests.Session:
    """This thread's session, made on first use (so in the process that serves, after a fork)."""
    session: requests.Session | None = getattr(_per_thread, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False
        _per_thread.session = session
    return session
