"""Real processes over real HTTP: each function runs under the functions-framework CLI exactly as
it is deployed, against a migrated database, and publishes to a capturing broker ingress.

Fixtures:
- `start_function(name, env) -> base_url` starts a function and waits until it listens;
  `start_function.stop(base_url)` kills it (tests of restarts). Every process is killed at the
  end of the test.
- `broker`: a CapturingBroker standing in for the broker ingress; it records every CloudEvent.
- `stateless_env`: BROKER_URL and JWT_SECRET for a function without a database;
  `function_env` adds DATABASE_URL (the root conftest's `database_url`: a migrated SQLite file,
  and a migrated PostgreSQL database).

The helpers live in function_processes.py: test modules import them from there, because every
test folder has a module named `conftest` and `from conftest import` picks whichever came first.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Other folders load this file by path (it is not a package); make its sibling importable then.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from function_processes import (
    JWT_SECRET,
    CapturingBroker,
    FunctionProcesses,
    free_port,
    wait_until,
)

__all__ = ["JWT_SECRET", "CapturingBroker", "FunctionProcesses", "free_port", "wait_until"]


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
