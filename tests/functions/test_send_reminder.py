"""send-reminder through real HTTP: a due reminder fires exactly once, never for a completed or
deleted task, also when it fell due while the function was down; fired reminders reach the
user's webhook once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from database_state import add_user, reminder_deliveries, run_command
from function_events import BROKER_SOURCE, a_task, post_binary, task_event
from function_processes import CapturingBroker
from sender_keys import headers_for
from taskflow import catalogue
from taskflow.domain import commands
from taskflow_dev.local.launch import free_port, wait_until


def task_reminded_at(database_url: str, title: str, remind_at: datetime, user_id="alice") -> dict:
    return run_command(
        database_url,
        commands.CreateTask(
            user_id=user_id, title=title, reminders=[{"at": remind_at.isoformat()}]
        ),
    )


def soon(seconds: float = 1.0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def wait_past(moment: datetime) -> None:
    wait_until(lambda: datetime.now(UTC) > moment, what="the reminder to fall due")


def reminders_due(broker: CapturingBroker) -> list:
    return broker.events(catalogue.REMINDER_DUE, catalogue.TOPIC_REMINDERS)


def sweep(base_url: str) -> None:
    """A sweep as the platform's timer sends it: signed like a delivery (PingSource's token)."""
    url = f"{base_url}/sweep"
    response = requests.post(url, headers=headers_for(url), timeout=30)
    assert (response.status_code, response.content) == (202, b"")


@pytest.fixture
def reminder_url(start_function, function_env) -> str:
    # The webhooks here are local servers: allowed only by this explicit setting (issue 12).
    return start_function("send_reminder", {**function_env, "TASKFLOW_WEBHOOK_ALLOW_LOCAL": "1"})


def test_a_due_reminder_fires_once_however_often_it_is_swept(reminder_url, broker, database_url):
    remind_at = soon()
    task = task_reminded_at(database_url, "call mum", remind_at)
    wait_past(remind_at)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: sweep(reminder_url), range(3)))
    wait_until(lambda: reminders_due(broker), what="reminder.due")
    sweep(reminder_url)

    (due,) = reminders_due(broker)
    assert due["partitionkey"] == "alice"
    assert due.data == {
        "task_id": task["id"],
        "reminder_id": task["reminders"][0]["id"],
        "title": "call mum",
        "due_at": None,
        "due_date": None,
        "remind_at": task["reminders"][0]["at"],
        "user_id": "alice",
    }
    assert reminder_deliveries(database_url) == 1


def test_no_reminder_for_a_completed_or_deleted_task(reminder_url, broker, database_url):
    remind_at = soon()
    kept = task_reminded_at(database_url, "kept", remind_at)
    completed = task_reminded_at(database_url, "completed", remind_at)
    deleted = task_reminded_at(database_url, "deleted", remind_at)
    run_command(database_url, commands.CompleteTask(user_id="alice", task_id=completed["id"]))
    run_command(database_url, commands.DeleteTask(user_id="alice", task_id=deleted["id"]))
    wait_past(remind_at)

    sweep(reminder_url)
    wait_until(lambda: reminders_due(broker), what="the kept task's reminder")
    sweep(reminder_url)

    assert [due.data["task_id"] for due in reminders_due(broker)] == [kept["id"]]


def test_a_reminder_moved_after_it_fired_fires_again_at_its_new_moment(
    reminder_url, broker, database_url
):
    first_moment = soon()
    task = task_reminded_at(database_url, "stretch", first_moment)
    wait_past(first_moment)
    sweep(reminder_url)
    wait_until(lambda: reminders_due(broker), what="the first reminder")

    later_moment = soon()
    run_command(
        database_url,
        commands.UpdateTask(
            user_id="alice",
            task_id=task["id"],
            changes={"reminders": [{"at": later_moment.isoformat()}]},
        ),
    )
    wait_past(later_moment)
    sweep(reminder_url)
    wait_until(lambda: len(reminders_due(broker)) >= 2, what="the moved reminder")
    sweep(reminder_url)

    fired_at = [datetime.fromisoformat(due.data["remind_at"]) for due in reminders_due(broker)]
    assert fired_at == [first_moment, later_moment]
    assert reminder_deliveries(database_url) == 2


def test_reminders_that_fell_due_while_down_fire_after_restart(
    start_function, function_env, broker, database_url
):
    stopped = start_function("send_reminder", function_env)
    start_function.stop(stopped)
    remind_at = soon()
    task = task_reminded_at(database_url, "while you were out", remind_at)
    wait_past(remind_at)

    restarted = start_function("send_reminder", function_env)

    # No request needed: the function sweeps when it starts.
    wait_until(lambda: reminders_due(broker), what="the missed reminder after restart")
    sweep(restarted)
    assert [due.data["task_id"] for due in reminders_due(broker)] == [task["id"]]


def test_a_reminder_fired_while_the_broker_was_down_is_published_once_it_is_back(
    start_function, function_env, broker, database_url
):
    unreachable_broker = f"http://127.0.0.1:{free_port()}/taskflow"
    cut_off = start_function("send_reminder", {**function_env, "BROKER_URL": unreachable_broker})
    remind_at = soon()
    task = task_reminded_at(database_url, "despite the outage", remind_at)
    wait_past(remind_at)

    sweep(cut_off)
    assert reminder_deliveries(database_url) == 1
    start_function.stop(cut_off)
    restarted = start_function("send_reminder", function_env)

    wait_until(lambda: reminders_due(broker), what="the reminder held in the outbox")
    sweep(restarted)
    assert [due.data["task_id"] for due in reminders_due(broker)] == [task["id"]]


def test_a_task_event_schedules_its_reminder_without_waiting_for_a_sweep(
    reminder_url, broker, database_url
):
    remind_at = soon(2)
    task = task_reminded_at(database_url, "timer", remind_at)
    created = task_event(catalogue.TASK_CREATED, a_task("alice", task["id"]))

    response = post_binary(reminder_url, created)

    assert (response.status_code, response.content) == (202, b"")
    wait_until(lambda: reminders_due(broker), what="the reminder fired by its timer")
    assert reminders_due(broker)[0].data["task_id"] == task["id"]


def reminder_due_event(user_id: str):
    return catalogue.new_event(
        catalogue.REMINDER_DUE,
        {
            "task_id": 1,
            "reminder_id": "r1",
            "title": "call mum",
            "due_at": None,
            "remind_at": datetime.now(UTC).isoformat(),
            "user_id": user_id,
        },
        user_id=user_id,
        source=BROKER_SOURCE,
    )


def test_a_fired_reminder_reaches_the_users_webhook_once(reminder_url, database_url):
    webhook = CapturingBroker()
    try:
        add_user(database_url, "alice", webhook_url=f"{webhook.url}/hooks/taskflow")
        add_user(database_url, "bob")
        for_alice, for_bob = reminder_due_event("alice"), reminder_due_event("bob")

        answers = [post_binary(f"{reminder_url}/deliver", e) for e in (for_alice, for_alice)]
        answers.append(post_binary(f"{reminder_url}/deliver", for_bob))

        assert [(a.status_code, a.content) for a in answers] == [(202, b"")] * 3
        (received,) = [r.event for r in webhook.received]
        assert received["id"] == for_alice["id"]
        assert received.data["title"] == "call mum"
    finally:
        webhook.close()


def test_a_failing_webhook_is_retried_by_the_broker(reminder_url, database_url):
    add_user(database_url, "carol", webhook_url=f"http://127.0.0.1:{free_port()}/gone")

    response = post_binary(f"{reminder_url}/deliver", reminder_due_event("carol"))

    assert response.status_code == 502
    assert response.json()["error"]["field"] == "webhook_url"
    assert "127.0.0.1" not in response.text


def test_malformed_deliveries_are_rejected_with_a_reason(reminder_url):
    wrong_route = post_binary(reminder_url, reminder_due_event("alice"))
    event = reminder_due_event("alice")
    del event.data["remind_at"]
    missing_field = post_binary(f"{reminder_url}/deliver", event)

    assert wrong_route.status_code == 400
    assert wrong_route.json()["error"]["field"] == "type"
    assert missing_field.status_code == 400
    assert "remind_at" in missing_field.json()["error"]["reason"]


SIDECAR_TOKEN = "the-dapr-sidecars-app-api-token"


def test_the_timer_doors_refuse_strangers_and_fire_nothing(
    start_function, function_env, broker, database_url
):
    """The sweeps and Dapr's job callback were open to anyone (issue 10). A job callback fires
    the reminder it names whether or not it is due, so an open door would fire this one, due in
    two hours (past the timers' horizon: nothing else fires it meanwhile). Unsigned, with a
    user-ish bearer token or with a wrong Dapr app token, every timer door answers 401 and fires
    nothing; the sidecar's own token opens the job callback."""
    base_url = start_function("send_reminder", {**function_env, "APP_API_TOKEN": SIDECAR_TOKEN})
    task = task_reminded_at(database_url, "in two hours", soon(2 * 3600))
    job = {"task_id": task["id"], "reminder_id": task["reminders"][0]["id"]}
    job["remind_at"] = task["reminders"][0]["at"]
    job_path = f"/job/reminder-{task['id']}-{job['reminder_id']}"
    strangers = {
        "no credential": {},
        "not a sender's token": {"Authorization": "Bearer not-a-token"},
        "a wrong Dapr app token": {"dapr-api-token": "guessed"},
    }

    answers = {
        (path, name): requests.post(f"{base_url}{path}", json=job, headers=extra, timeout=30)
        for path in ("/sweep", "/reminder-sweep", job_path)
        for name, extra in strangers.items()
    }

    assert {key: answer.status_code for key, answer in answers.items()} == dict.fromkeys(
        answers, 401
    )
    assert {answer.json()["error"]["field"] for answer in answers.values()} == {"authorization"}
    assert reminders_due(broker) == []
    assert reminder_deliveries(database_url) == 0
    opened = requests.post(
        f"{base_url}{job_path}", json=job, headers={"dapr-api-token": SIDECAR_TOKEN}, timeout=30
    )
    assert opened.status_code == 200
    wait_until(lambda: reminders_due(broker), what="the job's reminder.due")
    assert reminder_deliveries(database_url) == 1
