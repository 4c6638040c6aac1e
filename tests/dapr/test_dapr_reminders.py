"""Reminders under Dapr: an exact-time reminder is a Dapr job that calls send-reminder back at
its moment, and the cron binding's sweep delivers a reminder that fell due while send-reminder
was down. Either way the user is reminded exactly once (their webhook gets one call)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from dapr_stack import Stack
from infra_services import RecordingApp
from taskflow.adapters.dapr_jobs import job_data, job_name
from taskflow.adapters.reminder_schedule import ReminderKey
from taskflow_dev.local.launch import wait_until

pytestmark = pytest.mark.dapr

# Generous bounds for a loaded machine; the tests assert that things happen, not how fast.
FIRE_TIMEOUT_SECONDS = 60.0
# The reminder-sweep cron binding runs every 15 s (dapr/components/local/reminder-sweep.yaml).
SWEEP_TIMEOUT_SECONDS = 90.0
WEBHOOK_PATH = "/reminders"


@pytest.fixture(scope="module")
def database(product_database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(product_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def webhook() -> Iterator[tuple[RecordingApp, str]]:
    """The user's reminder webhook: records every reminder it is sent."""
    recorder = RecordingApp(subscriptions=[])
    with recorder.serving() as port:
        yield recorder, f"http://127.0.0.1:{port}{WEBHOOK_PATH}"


@pytest.fixture
def user(
    stack: Stack, signed_up: tuple[str, dict[str, str]], webhook: tuple[RecordingApp, str]
) -> tuple[str, dict[str, str]]:
    user_id, auth = signed_up
    answer = requests.patch(
        f"{stack.api_url}/api/me", json={"webhook_url": webhook[1]}, headers=auth, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return user_id, auth


def create_task(stack: Stack, user: tuple[str, dict[str, str]], **fields: object) -> dict:
    user_id, auth = user
    answer = requests.post(
        f"{stack.api_url}/api/{user_id}/tasks", json=fields, headers=auth, timeout=30
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def reminder_key(task: dict) -> ReminderKey:
    (reminder,) = task["reminders"]
    return ReminderKey(datetime.fromisoformat(reminder["at"]), task["id"], reminder["id"])


def deliveries(database: sa.Engine, task_id: int) -> list[sa.Row]:
    with database.connect() as connection:
        return connection.execute(
            sa.text("SELECT remind_at, fired_at FROM reminder_deliveries WHERE task_id = :task_id"),
            {"task_id": task_id},
        ).all()


def webhook_calls(recorder: RecordingApp, task_id: int) -> int:
    return sum(
        1 for call in recorder.requests_to(WEBHOOK_PATH) if call.json().get("task_id") == task_id
    )


def test_a_reminder_scheduled_through_the_jobs_api_fires_at_its_time(
    stack: Stack,
    user: tuple[str, dict[str, str]],
    database: sa.Engine,
    webhook: tuple[RecordingApp, str],
    record_property: pytest.RecordProperty,
) -> None:
    remind_at = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    task = create_task(
        stack, user, title="call the dentist", reminders=[{"at": remind_at.isoformat()}]
    )
    key = reminder_key(task)
    jobs_url = f"{stack.functions['send_reminder'].sidecar_url}/v1.0/jobs/{job_name(key)}"

    # The task event reached send-reminder, which handed the firing to the Dapr scheduler.
    wait_until(
        lambda: requests.get(jobs_url, timeout=5).status_code == 200,
        what="the reminder's Dapr job",
        timeout=FIRE_TIMEOUT_SECONDS,
    )
    # The Jobs API shows the data as the protobuf Value it stored.
    assert requests.get(jobs_url, timeout=5).json()["data"]["value"] == job_data(key)

    wait_until(
        lambda: deliveries(database, task["id"]),
        what="the reminder to fire",
        timeout=FIRE_TIMEOUT_SECONDS,
    )
    ((fired_for, fired_at),) = deliveries(database, task["id"])
    assert fired_for == remind_at
    assert remind_at <= fired_at
    lateness = (fired_at - remind_at).total_seconds()
    record_property("reminder_lateness_seconds", lateness)
    print(f"Dapr job reminder lateness: {lateness:.3f} s")
    # The scheduler called send-reminder back, and send-reminder took the call.
    callbacks = stack.functions["send_reminder"].proxy
    assert callbacks is not None
    wait_until(
        lambda: callbacks.calls_to(f"/job/{job_name(key)}"),
        what="the job's callback",
        timeout=FIRE_TIMEOUT_SECONDS,
    )
    assert [call.status for call in callbacks.calls_to(f"/job/{job_name(key)}")] == [200]
    # A one-shot job is gone once it called back.
    wait_until(
        lambda: requests.get(jobs_url, timeout=5).status_code != 200,
        what="the job to be done",
        timeout=FIRE_TIMEOUT_SECONDS,
    )
    recorder, _ = webhook
    wait_until(
        lambda: webhook_calls(recorder, task["id"]),
        what="the webhook",
        timeout=FIRE_TIMEOUT_SECONDS,
    )
    assert webhook_calls(recorder, task["id"]) == 1


def test_completing_a_task_deletes_its_reminder_job(
    stack: Stack, user: tuple[str, dict[str, str]]
) -> None:
    remind_at = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    task = create_task(
        stack, user, title="renew passport", reminders=[{"at": remind_at.isoformat()}]
    )
    jobs_url = (
        f"{stack.functions['send_reminder'].sidecar_url}/v1.0/jobs/{job_name(reminder_key(task))}"
    )
    wait_until(
        lambda: requests.get(jobs_url, timeout=5).status_code == 200,
        what="the reminder's Dapr job",
        timeout=FIRE_TIMEOUT_SECONDS,
    )
    user_id, auth = user

    completed = requests.patch(
        f"{stack.api_url}/api/{user_id}/tasks/{task['id']}/complete", headers=auth, timeout=30
    )

    assert completed.status_code == 200, completed.text
    wait_until(
        lambda: requests.get(jobs_url, timeout=5).status_code != 200,
        what="the job of the completed task to be deleted",
        timeout=FIRE_TIMEOUT_SECONDS,
    )


def test_the_cron_sweep_delivers_a_reminder_that_fell_due_while_send_reminder_was_down(
    stack: Stack,
    user: tuple[str, dict[str, str]],
    database: sa.Engine,
    webhook: tuple[RecordingApp, str],
) -> None:
    """Beyond the timer horizon a reminder has no job yet. send-reminder goes down, the clock
    passes the reminder (moved into the past here instead of waiting a day), send-reminder comes
    back: no event and no job will ever call for it, only the sweep of the cron binding."""
    later = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    missed = create_task(
        stack, user, title="water the plants", reminders=[{"at": later.isoformat()}]
    )
    witness = create_task(stack, user, title="feed the cat", reminders=[{"at": later.isoformat()}])
    send_reminder = stack.functions["send_reminder"]
    recorder, _ = webhook

    send_reminder.stop()
    try:
        fell_due_at = datetime.now(UTC) - timedelta(minutes=1)
        move_reminders(database, missed["id"], fell_due_at)
    finally:
        send_reminder.start()

    wait_until(
        lambda: webhook_calls(recorder, missed["id"]),
        what="the missed reminder to be delivered",
        timeout=SWEEP_TIMEOUT_SECONDS,
    )
    # A later sweep must not deliver it again: let one more sweep run (it delivers the witness).
    move_reminders(database, witness["id"], datetime.now(UTC) - timedelta(seconds=1))
    wait_until(
        lambda: webhook_calls(recorder, witness["id"]),
        what="a later sweep",
        timeout=SWEEP_TIMEOUT_SECONDS,
    )
    assert webhook_calls(recorder, missed["id"]) == 1
    assert len(deliveries(database, missed["id"])) == 1
    # It was the cron binding that swept: the sidecar called the sweep route, and it worked.
    proxy = send_reminder.proxy
    assert proxy is not None
    assert 202 in {call.status for call in proxy.calls_to("/reminder-sweep")}


def move_reminders(database: sa.Engine, task_id: int, remind_at: datetime) -> None:
    with database.begin() as connection:
        connection.execute(
            sa.text("UPDATE task_reminders SET remind_at = :at WHERE task_id = :task_id"),
            {"at": remind_at, "task_id": task_id},
        )


def test_a_job_callback_with_bad_data_is_refused_naming_the_field(stack: Stack) -> None:
    answer = requests.post(
        f"{stack.functions['send_reminder'].app_url}/job/reminder-1-r-0",
        json={"task_id": "seven", "reminder_id": "r", "remind_at": "2026-01-01T00:00:00+00:00"},
        # As daprd calls it: the job door takes only the sidecar's app API token.
        headers={"dapr-api-token": stack.env["APP_API_TOKEN"]},
        timeout=10,
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "task_id"
