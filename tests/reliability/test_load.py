"""Load: many users write through the REST API at once while two browsers per user listen;
afterwards every count is exact (specs/reliability.md, "Load").

The load must be done within `TASKFLOW_LOAD_SECONDS` (default 600): a pipeline that has become
too slow fails here, saying how far it got, instead of stretching `just test` without end."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from stack import LOAD_BACKINGS, running_stack
from workload import Listener, User, assert_exact

USERS = int(os.environ.get("TASKFLOW_LOAD_USERS", "50"))
OPERATIONS_PER_USER = int(os.environ.get("TASKFLOW_LOAD_OPERATIONS", "200"))
LOAD_SECONDS = float(os.environ.get("TASKFLOW_LOAD_SECONDS", "600"))
BROWSERS_PER_USER = 2


class LoadTooSlow(Exception):
    pass


def stop_after(deadline: float) -> None:
    """Called by each user between operations: past the deadline, the user stops."""
    if time.monotonic() > deadline:
        raise LoadTooSlow


@pytest.mark.parametrize("backing", LOAD_BACKINGS)
def test_concurrent_users_leave_exact_counts(tmp_path: Path, sqlite_url: str, backing: str) -> None:
    with running_stack(tmp_path, sqlite_url, backing=backing) as stack:
        users = [User(stack.web, seed) for seed in range(USERS)]
        socket_url = stack.url("broadcast_update")
        listeners = [Listener(socket_url, user) for user in users for _ in range(BROWSERS_PER_USER)]
        try:
            deadline = time.monotonic() + LOAD_SECONDS
            with ThreadPoolExecutor(max_workers=USERS) as pool:
                runs = [
                    pool.submit(user.run, OPERATIONS_PER_USER, lambda: stop_after(deadline))
                    for user in users
                ]
            too_slow = [run for run in runs if isinstance(run.exception(), LoadTooSlow)]
            if too_slow:
                done = sum(user.operations_done for user in users)
                pytest.fail(
                    f"the load did not finish within {LOAD_SECONDS:.0f} s: {done} of "
                    f"{USERS * OPERATIONS_PER_USER} operations done "
                    f"({done / LOAD_SECONDS:.1f} per second); the pipeline is too slow"
                )
            for run in runs:
                run.result()
            assert_exact(stack, users, listeners)
        finally:
            for listener in listeners:
                listener.close()
