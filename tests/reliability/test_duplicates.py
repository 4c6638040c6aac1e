"""Duplicates: every delivery of every Trigger reaches its function three times at once, as a
broker redelivering after lost acknowledgements would; every effect still happens once (audit
rows, spawned occurrences, fired reminders, pushes to each browser)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from stack import LOAD_BACKINGS, running_stack
from workload import Listener, User, assert_exact

USERS = 10
OPERATIONS_PER_USER = 25
COPIES = 3
REMINDER_SECONDS_AHEAD = 4.0


@pytest.mark.parametrize("backing", LOAD_BACKINGS)
def test_every_event_delivered_three_times_has_its_effects_once(
    tmp_path: Path, sqlite_url: str, backing: str
) -> None:
    with running_stack(tmp_path, sqlite_url, backing=backing, deliveries_per_event=COPIES) as stack:
        users = [User(stack.web, seed) for seed in range(USERS)]
        socket_url = stack.url("broadcast_update")
        listeners = [Listener(socket_url, user) for user in users for _ in range(2)]
        try:
            for user in users:
                user.create_with_reminder(REMINDER_SECONDS_AHEAD)
            with ThreadPoolExecutor(max_workers=USERS) as pool:
                for finished in [pool.submit(user.run, OPERATIONS_PER_USER) for user in users]:
                    finished.result()
            assert_exact(stack, users, listeners)
        finally:
            for listener in listeners:
                listener.close()
        deliveries = [status for proxy in stack.proxies.values() for status in proxy.answers]
        assert len(deliveries) >= COPIES * USERS * OPERATIONS_PER_USER // 2
        # Every copy was answered as a success or a deliberate refusal, never a crash.
        assert [status for status in deliveries if status >= 500] == []
