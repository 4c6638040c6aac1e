"""Load: many users write through the REST API at once while two browsers per user listen;
afterwards every count is exact (specs/reliability.md, "Load")."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from stack import LOAD_BACKINGS, running_stack
from workload import Listener, User, assert_exact

USERS = int(os.environ.get("TASKFLOW_LOAD_USERS", "50"))
OPERATIONS_PER_USER = int(os.environ.get("TASKFLOW_LOAD_OPERATIONS", "12"))
BROWSERS_PER_USER = 2


@pytest.mark.parametrize("backing", LOAD_BACKINGS)
def test_concurrent_users_leave_exact_counts(tmp_path: Path, sqlite_url: str, backing: str) -> None:
    with running_stack(tmp_path, sqlite_url, backing=backing) as stack:
        users = [User(stack.web, seed) for seed in range(USERS)]
        socket_url = stack.url("broadcast_update")
        listeners = [Listener(socket_url, user) for user in users for _ in range(BROWSERS_PER_USER)]
        try:
            with ThreadPoolExecutor(max_workers=USERS) as pool:
                for finished in [pool.submit(user.run, OPERATIONS_PER_USER) for user in users]:
                    finished.result()
            assert_exact(stack, users, listeners)
        finally:
            for listener in listeners:
                listener.close()
