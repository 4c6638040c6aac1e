"""`just up`'s internal doors are closed (issue 10, specs/eventing.md "Sender identity"): a
CloudEvent forged by anyone on the machine gets 401 at every function's event door, at
create-task's /commands and at the router's ingress, and changes nothing. The runner made its own
keys in the data folder; with them (and only with them) the same doors open."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sender_keys import KEYS
from taskflow import catalogue
from taskflow.adapters import orm, sender_identity
from taskflow.config import FUNCTIONS
from taskflow_dev.local.__main__ import SENDER_KEYS_FILE
from taskflow_dev.local.launch import LaunchedRunner, wait_until

PING = "dev.knative.sources.ping"  # what a PingSource (and the runner's timers) send

# The forged command, as curl sent it: binary mode, any user's id.
FORGED_HEADERS = {
    "ce-specversion": "1.0",
    "ce-source": "/o",
    "content-type": "application/json",
}


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedRunner]:
    # No keys from the test environment: the runner must make its own, as on a fresh clone.
    started = LaunchedRunner(tmp_path_factory.mktemp("closed-doors"), env=dict.fromkeys(KEYS, ""))
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def victim(runner: LaunchedRunner) -> dict[str, str]:
    answer = requests.post(
        f"{runner.url('web')}/api/auth/signup",
        json={"email": "victim@example.com", "password": "correct horse battery staple"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return {"user_id": body["user_id"], "token": body["token"]}


def served(metrics_url: str, route: str, status: int) -> float:
    """How many POSTs to `route` the process whose metrics port is at `metrics_url` answered
    with `status`."""
    text = requests.get(f"{metrics_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "taskflow_http_requests_total"
        and sample.labels.get("method") == "POST"
        and sample.labels.get("route") == route
        and sample.labels.get("status") == str(status)
    )


def forge(url: str, type_: str, data: dict, **headers: str) -> requests.Response:
    return requests.post(
        url,
        data=json.dumps(data),
        headers={**FORGED_HEADERS, "ce-id": str(uuid.uuid4()), "ce-type": type_, **headers},
        timeout=10,
    )


def rows(runner: LaunchedRunner, table: sa.Table) -> int:
    engine = sa.create_engine(f"sqlite:///{runner.log_path.parent / 'data' / 'taskflow.db'}")
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
    finally:
        engine.dispose()


def test_forged_events_get_401_at_every_door_and_change_nothing(
    runner: LaunchedRunner, victim: dict[str, str]
) -> None:
    user_id = victim["user_id"]
    command = {"user_id": user_id, "title": "FORGED"}
    task_data = {
        "event_type": "completed",
        "task_id": 1,
        "user_id": user_id,
        "timestamp": "2030-01-01T00:00:00+00:00",
        "task_data": {"id": 1, "user_id": user_id, "title": "FORGED"},
    }
    reminder = {"user_id": user_id, "task_id": 1, "reminder_id": "r1", "title": "FORGED"}
    router = runner.url("router")
    doors = {
        "create-task /": (runner.url("create_task"), catalogue.CREATE_TASK, command),
        "create-task /commands": (
            f"{runner.url('create_task')}/commands",
            catalogue.CREATE_TASK,
            command,
        ),
        "spawn-recurrence /": (runner.url("spawn_recurrence"), catalogue.TASK_COMPLETED, task_data),
        "send-reminder /": (runner.url("send_reminder"), catalogue.TASK_CREATED, task_data),
        "send-reminder /deliver": (
            f"{runner.url('send_reminder')}/deliver",
            catalogue.REMINDER_DUE,
            reminder,
        ),
        "write-audit /": (runner.url("write_audit"), catalogue.TASK_CREATED, task_data),
        "broadcast-update /": (runner.url("broadcast_update"), catalogue.TASK_CREATED, task_data),
        "router task-events": (f"{router}/taskflow/task-events", catalogue.CREATE_TASK, command),
        "router task-updates": (
            f"{router}/taskflow/task-updates",
            catalogue.TASK_CREATED,
            task_data,
        ),
        "router reminders": (f"{router}/taskflow/reminders", catalogue.REMINDER_DUE, reminder),
        "router dead-letter": (f"{router}/dead-letter", catalogue.CREATE_TASK, command),
        # The timer doors: what a PingSource, the runner's timers or a Dapr sidecar call.
        "create-task /relay": (f"{runner.url('create_task')}/relay", PING, {}),
        "send-reminder /sweep": (f"{runner.url('send_reminder')}/sweep", PING, {}),
        "send-reminder /reminder-sweep": (
            f"{runner.url('send_reminder')}/reminder-sweep",
            PING,
            {},
        ),
        "send-reminder /job/<name>": (
            f"{runner.url('send_reminder')}/job/reminder-1-r1-1767258000",
            PING,
            {"task_id": 1, "reminder_id": "r1", "remind_at": "2026-01-01T09:00:00+00:00"},
        ),
    }
    # A bearer token of the victim's own (a user's JWT) is no sender's credential either.
    as_the_user = {"Authorization": f"Bearer {victim['token']}"}

    answers = {
        name: (
            forge(url, type_, data).status_code,
            forge(url, type_, data, **as_the_user).status_code,
        )
        for name, (url, type_, data) in doors.items()
    }

    assert answers == dict.fromkeys(doors, (401, 401))
    tasks = requests.get(
        f"{runner.url('web')}/api/{user_id}/tasks?status=all",
        headers={"Authorization": f"Bearer {victim['token']}"},
        timeout=10,
    )
    assert tasks.json()["items"] == []
    for table in (orm.tasks, orm.outbox, orm.processed_events, orm.audit_log):
        assert rows(runner, table) == 0, table.name
    health = requests.get(f"{router}/healthz", timeout=10).json()
    assert health["backlog"] == 0
    assert requests.get(f"{router}/dead-letters", timeout=10).json() == []


def test_the_runner_made_its_keys_in_the_data_folder_and_they_open_the_doors(
    runner: LaunchedRunner, victim: dict[str, str]
) -> None:
    path: Path = runner.log_path.parent / "data" / SENDER_KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text())
    assert set(keys) == set(KEYS)
    assert not set(keys.values()) & set(KEYS.values())

    api = sender_identity.Signer(sender_identity.API, keys["TASKFLOW_COMMAND_KEY"])
    signed = forge(
        f"{runner.url('create_task')}/commands",
        catalogue.CREATE_TASK,
        {"user_id": victim["user_id"], "title": "sent as the API"},
        **api.headers(sender_identity.service_audience("taskflow", "create-task")),
    )

    assert signed.status_code == 200, signed.text
    assert signed.json()["task"]["title"] == "sent as the API"


def test_the_runners_own_timers_open_the_timer_doors(runner: LaunchedRunner) -> None:
    """The runner's relay and sweep timers sign their pings (as the router signs deliveries),
    so the doors that refuse everyone else still answer them 202."""
    wait_until(
        lambda: served(runner.url("create_task_metrics"), "/relay", 202) >= 1,
        what="a timer's /relay accepted",
    )
    wait_until(
        lambda: served(runner.url("send_reminder_metrics"), "/sweep", 202) >= 1,
        what="a timer's /sweep accepted",
    )
    assert "answered 401" not in runner.output()


@pytest.mark.parametrize("name", ["web", *FUNCTIONS])
def test_metrics_answer_on_the_metrics_ports_only(runner: LaunchedRunner, name: str) -> None:
    """`/metrics` sat on the web app's public port (issue 12, item 6). Under `just up` the web
    app and every function answer it 404 on the port of users and deliveries; each serves its
    counters on a port of its own (config.Ports.<name>_metrics)."""
    assert requests.get(f"{runner.url(name)}/metrics", timeout=10).status_code == 404
    answer = requests.get(f"{runner.url(f'{name}_metrics')}/metrics", timeout=10)
    assert answer.status_code == 200
    service = "api" if name == "web" else name.replace("_", "-")
    assert f'service="{service}"' in answer.text, answer.text[-2000:]
