"""The fixtures of the tests that run functions as real processes, shared by tests/functions and
tests/observability: each conftest imports them, which is how pytest finds them there.

- `start_function(name, env) -> base_url` starts a function and waits until it listens;
  `start_function.stop(base_url)` kills it (tests of restarts). Every process is killed at the
  end of the test.
- `broker`: a CapturingBroker standing in for the broker ingress; it records every CloudEvent.
- `stateless_env`: BROKER_URL and JWT_SECRET for a function without a database;
  `function_env` adds DATABASE_URL (the root conftest's `database_url`: a migrated SQLite file,
  and a migrated PostgreSQL database).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from function_processes import JWT_SECRET, CapturingBroker, FunctionProcesses


@pytest.fixture
def start_function(tmp_path: Path) -> Iterator[FunctionProcesses]:
    processes = FunctionProcesses(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def broker() -> Iterator[CapturingBroker]:
    capturing = CapturingBroker()
    try:
        yield capturing
    finally:
        capturing.close()


@pytest.fixture
def stateless_env(tmp_path: Path, broker: CapturingBroker) -> dict[str, str]:
    """For functions without a database: BROKER_URL, JWT_SECRET and a private data folder."""
    return {"BROKER_URL": broker.url, "JWT_SECRET": JWT_SECRET, "TASKFLOW_DATA_DIR": str(tmp_path)}


@pytest.fixture
def function_env(stateless_env: dict[str, str], database_url: str) -> dict[str, str]:
    return {**stateless_env, "DATABASE_URL": database_url}
