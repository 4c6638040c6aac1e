"""Faults: while users keep writing, each function, the router, the web app and PostgreSQL are
killed in turn and started again; afterwards nothing is lost and nothing happened twice, and
while the database is down the API says so with a 503 and recovers by itself."""

from __future__ import annotations

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from stack import BACKINGS, Stack, running_stack, wait_until
from taskflow.config import REPO_ROOT
from workload import User, assert_exact

USERS = 8
# Each user writes until every fault was injected, within these bounds.
MINIMUM_OPERATIONS = 40
MAXIMUM_OPERATIONS = 600
OPERATIONS_BETWEEN_FAULTS = 40  # all users together, so every fault lands mid-load
PROCESSES_TO_KILL = (
    "create-task",
    "spawn-recurrence",
    "send-reminder",
    "write-audit",
    "broadcast-update",
    "router",
    "web",
)
POSTGRES_SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"

pytestmark = pytest.mark.postgres


def keep_writing(user: User, faults_done: threading.Event) -> None:
    for done in range(MAXIMUM_OPERATIONS):
        if faults_done.is_set() and done >= MINIMUM_OPERATIONS:
            return
        user.step()


def operations(users: list[User]) -> int:
    return sum(user.tally.events for user in users)


def let_load_progress(users: list[User]) -> None:
    target = operations(users) + OPERATIONS_BETWEEN_FAULTS
    wait_until(lambda: operations(users) >= target, what="the load to go on", timeout=120)


def postgres(command: str) -> None:
    subprocess.run([str(POSTGRES_SCRIPT), command], check=True, cwd=REPO_ROOT, timeout=120)


def assert_api_reports_the_database_down(stack: Stack, user: User) -> None:
    answer = requests.get(f"{stack.web}{user.tasks_path}", headers=user.auth, timeout=30)
    assert answer.status_code == 503
    assert answer.json() == {"error": {"reason": "database unavailable, retry shortly"}}
    assert answer.headers["Retry-After"].isdigit()


@pytest.mark.parametrize("backing", BACKINGS)
def test_killing_each_process_and_the_database_loses_nothing_and_repeats_nothing(
    tmp_path: Path, postgres_url: str, backing: str, kafka_bootstrap_of_backing: str | None
) -> None:
    with running_stack(
        tmp_path, postgres_url, backing=backing, kafka_bootstrap=kafka_bootstrap_of_backing
    ) as stack:
        users = [User(stack.web, seed) for seed in range(USERS)]
        for user in users:
            user.create_with_reminder(seconds_ahead=8.0)
        faults_done = threading.Event()
        with ThreadPoolExecutor(max_workers=USERS) as pool:
            load = [pool.submit(keep_writing, user, faults_done) for user in users]
            try:
                for name in PROCESSES_TO_KILL:
                    let_load_progress(users)
                    stack.restart(name)  # SIGKILL mid-load, then start again
                let_load_progress(users)
                postgres("stop")
                try:
                    assert_api_reports_the_database_down(stack, users[0])
                    # The outage lasts until the users meet it too, however slow their requests.
                    wait_until(
                        lambda: sum(user.tally.refused[503] for user in users) > 0,
                        what="a user to be refused with a 503 during the outage",
                        timeout=60,
                    )
                finally:
                    postgres("start")
                let_load_progress(users)
            finally:
                faults_done.set()
                for finished in load:
                    finished.result()
        # The outage was seen by the users too, and they got through it by retrying.
        assert sum(user.tally.refused[503] for user in users) > 0
        wait_until(
            lambda: (
                requests.get(
                    f"{stack.web}{users[0].tasks_path}",
                    headers=users[0].auth,
                    timeout=10,
                ).status_code
                == 200
            ),
            what="the API to recover by itself",
            timeout=30,
        )
        assert_exact(stack, users, listeners=[])
