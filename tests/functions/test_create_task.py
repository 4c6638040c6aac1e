"""create-task through real HTTP: commands invoked directly (/commands) or delivered by the broker
(/), each applied once per CloudEvent id, with its events published to the broker right away."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from database_state import run_command, tasks
from function_events import (
    BROKER_SOURCE,
    a_recurring_task,
    new_id,
    post_binary,
    post_structured,
    reply_event,
)
from metrics_ports import scrape
from sender_keys import NAMESPACE, as_api, as_router, headers_for
from taskflow import catalogue
from taskflow.adapters import sender_identity
from taskflow.domain import commands
from taskflow_dev.local.launch import free_port, wait_until


def command(type_: str, data: dict, *, event_id: str | None = None):
    return catalogue.new_event(
        type_, data, user_id=data["user_id"], source=BROKER_SOURCE, event_id=event_id or new_id()
    )


@pytest.fixture
def create_task_url(start_function, function_env) -> str:
    return start_function("create_task", function_env)


def invoke(create_task_url: str, type_: str, data: dict, **options) -> dict:
    """A command sent as the API sends it; the task of create-task's result CloudEvent."""
    result = reply_event(
        post_binary(f"{create_task_url}/commands", command(type_, data, **options))
    )
    assert result["type"] == catalogue.COMMAND_RESULT
    catalogue.validate(result["type"], result.data)
    assert result.data["status"] == "ok"
    return result.data["task"]


def published_ids(broker, type_: str, topic: str) -> list[str]:
    return [event["id"] for event in broker.events(type_, topic)]


def test_a_command_creates_a_task_and_publishes_its_event_on_both_topics(create_task_url, broker):
    task = invoke(
        create_task_url,
        catalogue.CREATE_TASK,
        {"user_id": "alice", "title": "buy milk", "tags": ["Groceries"], "priority": "p1"},
    )

    assert task["title"] == "buy milk"
    assert task["priority"] == "high"
    assert task["tags"] == ["groceries"]
    for topic in (catalogue.TOPIC_TASK_EVENTS, catalogue.TOPIC_TASK_UPDATES):
        wait_until(
            lambda topic=topic: broker.events(catalogue.TASK_CREATED, topic),
            what=f"task.created on {topic}",
        )
        (created,) = broker.events(catalogue.TASK_CREATED, topic)
        assert created.data["task_id"] == task["id"]
        assert created["partitionkey"] == "alice"


def test_a_retried_command_returns_the_first_answer_and_acts_once(
    create_task_url, broker, database_url
):
    data = {"user_id": "alice", "title": "only once"}
    command_id = new_id()

    first = invoke(create_task_url, catalogue.CREATE_TASK, data, event_id=command_id)
    again = invoke(create_task_url, catalogue.CREATE_TASK, data, event_id=command_id)
    later = invoke(create_task_url, catalogue.CREATE_TASK, {"user_id": "alice", "title": "next"})

    assert again == first
    assert tasks(database_url) == 2
    wait_until(
        lambda: len(broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)) >= 2,
        what="both task.created events",
    )
    created = broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)
    assert sorted(e.data["task_id"] for e in created) == sorted([first["id"], later["id"]])


def test_a_command_id_resent_with_another_user_never_returns_that_users_task(
    create_task_url, database_url
):
    command_id = new_id()
    bobs = invoke(
        create_task_url,
        catalogue.CREATE_TASK,
        {"user_id": "bob", "title": "bob's secret"},
        event_id=command_id,
    )
    alices = invoke(
        create_task_url,
        catalogue.CREATE_TASK,
        {"user_id": "alice", "title": "alice's own"},
        event_id=command_id,
    )

    assert alices["id"] != bobs["id"]
    assert (alices["user_id"], alices["title"]) == ("alice", "alice's own")
    assert tasks(database_url) == 2


def test_commands_and_deliveries_without_their_senders_token_get_401_and_change_nothing(
    create_task_url, broker, database_url
):
    forged = command(catalogue.CREATE_TASK, {"user_id": "alice", "title": "FORGED"})
    headers, body = to_binary(forged)
    commands_door = f"{create_task_url}/commands"
    other_key = sender_identity.Signer(sender_identity.API, "a-key-that-is-not-the-apis-01234")
    create_task = sender_identity.service_audience(NAMESPACE, "create-task")
    attempts = {
        "/commands, no credential": (commands_door, {}),
        "/commands, another key": (commands_door, other_key.headers(create_task)),
        # A delivery's token is the router's, not the API's: it does not open /commands.
        "/commands, the router's token": (commands_door, as_router.headers(create_task)),
        "/, no credential": (create_task_url, {}),
        # The API's token does not open the broker's door either.
        "/, the API's token": (create_task_url, as_api.headers(create_task)),
        "/, a token for write-audit": (
            create_task_url,
            as_router.headers(sender_identity.service_audience(NAMESPACE, "write-audit")),
        ),
    }
    answers = {
        name: requests.post(url, data=body, headers=headers | extra, timeout=10).status_code
        for name, (url, extra) in attempts.items()
    }

    assert answers == dict.fromkeys(attempts, 401)
    assert tasks(database_url) == 0
    assert broker.received == []


@pytest.mark.parametrize(
    ("type_", "data", "status", "field"),
    [
        (catalogue.CREATE_TASK, {"user_id": "alice", "title": " "}, 422, "title"),
        (catalogue.CREATE_TASK, {"user_id": "alice", "title": "x", "due": "someday"}, 422, "due"),
        (catalogue.COMPLETE_TASK, {"user_id": "alice", "task_id": 999}, 404, None),
        (catalogue.SKIP_OCCURRENCE, {"user_id": "alice", "task_id": 999}, 404, None),
    ],
    ids=["blank title", "bad due", "unknown task", "skip unknown task"],
)
def test_a_refused_command_names_the_reason_and_changes_nothing(
    create_task_url, broker, database_url, type_, data, status, field
):
    response = post_binary(f"{create_task_url}/commands", command(type_, data))

    assert response.status_code == status
    error = response.json()["error"]
    assert error["reason"]
    if field:
        assert error["field"] == field
    assert tasks(database_url) == 0
    assert broker.received == []


def test_an_operation_the_task_state_forbids_is_a_conflict(create_task_url):
    task = invoke(create_task_url, catalogue.CREATE_TASK, {"user_id": "alice", "title": "once"})

    response = post_binary(
        f"{create_task_url}/commands",
        command(catalogue.SKIP_OCCURRENCE, {"user_id": "alice", "task_id": task["id"]}),
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_operation"


def test_another_users_task_is_not_found(create_task_url):
    task = invoke(create_task_url, catalogue.CREATE_TASK, {"user_id": "alice", "title": "mine"})

    response = post_binary(
        f"{create_task_url}/commands",
        command(catalogue.DELETE_TASK, {"user_id": "mallory", "task_id": task["id"]}),
    )

    assert response.status_code == 404


def test_malformed_commands_are_rejected_with_a_reason(create_task_url, database_url):
    bad = command(catalogue.CREATE_TASK, {"user_id": "alice", "title": "x"})
    bad.data["colour"] = "red"
    response = post_structured(f"{create_task_url}/commands", bad)
    assert response.status_code == 400
    assert "colour" in response.json()["error"]["reason"]

    not_a_command = post_binary(
        create_task_url,
        catalogue.new_event(
            catalogue.REMINDER_DUE,
            {
                "task_id": 1,
                "reminder_id": "r",
                "title": "t",
                "due_at": None,
                "remind_at": datetime.now(UTC).isoformat(),
                "user_id": "alice",
            },
            user_id="alice",
            source=BROKER_SOURCE,
        ),
    )
    assert not_a_command.status_code == 400
    assert not_a_command.json()["error"]["field"] == "type"
    commands = f"{create_task_url}/commands"
    not_json = requests.post(commands, data=b"[]", headers=headers_for(commands), timeout=10)
    assert not_json.status_code == 400
    assert tasks(database_url) == 0


def completed_daily_task(create_task_url: str, broker) -> tuple[dict, CloudEvent]:
    """A daily task due tomorrow, completed through create-task: the task as created and its
    task.completed event as the broker received it."""
    due = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    first = invoke(
        create_task_url,
        catalogue.CREATE_TASK,
        {
            "user_id": "alice",
            "title": "stand-up",
            "due": due,
            "recurrence": {"rule": "FREQ=DAILY", "mode": "due"},
        },
    )
    invoke(create_task_url, catalogue.COMPLETE_TASK, {"user_id": "alice", "task_id": first["id"]})
    wait_until(
        lambda: broker.events(catalogue.TASK_COMPLETED, catalogue.TOPIC_TASK_EVENTS),
        what="task.completed",
    )
    (completed,) = broker.events(catalogue.TASK_COMPLETED, catalogue.TOPIC_TASK_EVENTS)
    return first, completed


def next_occurrence_created(broker) -> dict:
    """The data of the second task.created: the spawned occurrence's."""
    wait_until(
        lambda: len(broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)) == 2,
        what="the next occurrence's task.created",
    )
    return broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)[1].data


def test_completing_a_recurring_task_spawns_the_next_occurrence_exactly_once(
    start_function, stateless_env, create_task_url, broker, database_url
):
    """The whole recurrence path: create-task -> task.completed -> spawn-recurrence -> its
    reply delivered (twice) to create-task's broker route -> one new occurrence."""
    spawn_url = start_function("spawn_recurrence", stateless_env)
    first, completed = completed_daily_task(create_task_url, broker)

    spawn = reply_event(post_binary(spawn_url, completed))
    for _ in range(2):
        response = post_binary(create_task_url, spawn)
        assert response.status_code == 202
        assert response.content == b""

    assert tasks(database_url) == 2
    occurrence = next_occurrence_created(broker)
    assert occurrence["spawned_from"] == first["id"]
    assert occurrence["task_data"]["recurrence"]["occurrence"] == 2
    assert occurrence["task_data"]["due_at"] > first["due_at"]


def test_deleting_the_completed_occurrence_before_its_spawn_arrives_keeps_the_series(
    start_function, stateless_env, create_task_url, broker, database_url
):
    """The user completes a repeating task and deletes it at once, before spawn-recurrence's
    command reaches create-task: the next occurrence still appears, once."""
    spawn_url = start_function("spawn_recurrence", stateless_env)
    first, completed = completed_daily_task(create_task_url, broker)
    spawn = reply_event(post_binary(spawn_url, completed))
    invoke(create_task_url, catalogue.DELETE_TASK, {"user_id": "alice", "task_id": first["id"]})

    for _ in range(2):
        assert post_binary(create_task_url, spawn).status_code == 202

    assert tasks(database_url) == 1
    occurrence = next_occurrence_created(broker)
    assert occurrence["spawned_from"] == first["id"]
    assert occurrence["task_data"]["title"] == "stand-up"
    assert occurrence["task_data"]["recurrence"]["occurrence"] == 2


def test_a_refused_command_from_the_broker_is_not_retried(create_task_url, database_url):
    """A non-retryable 422 sends it to the dead-letter sink; 404 would make the broker retry."""
    complete_a_missing_task = command(catalogue.COMPLETE_TASK, {"user_id": "alice", "task_id": 999})

    response = post_binary(create_task_url, complete_a_missing_task)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_found"
    assert tasks(database_url) == 0


def test_a_spawn_without_a_repeating_completed_snapshot_is_rejected(create_task_url, database_url):
    """The schema names the part of the snapshot that is wrong, and nothing is created."""
    task = a_recurring_task("alice", 7)
    task.complete(now=task.created_at)
    snapshot = task.to_dict()
    spawn_data = {"user_id": "alice", "task_id": 7, "completed_at": snapshot["completed_at"]}

    def rejection(break_it: Callable[[dict], object]) -> dict:
        spawn = command(catalogue.SPAWN_OCCURRENCE, {**spawn_data, "task_data": dict(snapshot)})
        # Built valid, then broken: catalogue.new_event refuses to build an invalid event.
        break_it(spawn.data)
        response = post_binary(create_task_url, spawn)
        assert response.status_code == 400
        return response.json()["error"]

    not_repeating = rejection(lambda data: data["task_data"].update(recurrence=None))
    not_completed = rejection(lambda data: data["task_data"].update(completed=False))
    missing = rejection(lambda data: data.pop("task_data"))

    assert not_repeating["field"] == "data.task_data.recurrence"
    assert not_completed["field"] == "data.task_data.completed"
    assert "'task_data' is a required property" in missing["reason"]
    assert tasks(database_url) == 0


def test_a_spawn_into_another_users_account_is_refused(
    start_function, stateless_env, create_task_url, broker, database_url
):
    """A spawn command whose snapshot is someone else's task never creates a task for them."""
    spawn_url = start_function("spawn_recurrence", stateless_env)
    _, completed = completed_daily_task(create_task_url, broker)
    spawn = reply_event(post_binary(spawn_url, completed))
    forged = command(catalogue.SPAWN_OCCURRENCE, {**spawn.data, "user_id": "mallory"})

    response = post_binary(create_task_url, forged)

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "task_data.user_id"
    assert tasks(database_url) == 1


def test_the_relay_route_publishes_what_is_pending(create_task_url, broker, database_url):
    """A write whose relay never ran (a crash after commit) is published by POST /relay."""
    task = run_command(database_url, commands.CreateTask(user_id="alice", title="stranded"))
    relay_url = f"{create_task_url}/relay"

    relay = requests.post(relay_url, headers=headers_for(relay_url), timeout=10)

    assert (relay.status_code, relay.content) == (202, b"")
    wait_until(
        lambda: broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_UPDATES),
        what="the stranded task.created",
    )
    (created,) = broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_UPDATES)
    assert created.data["task_id"] == task["id"]


def test_events_left_pending_by_a_crash_are_published_when_create_task_starts(
    start_function, function_env, broker, database_url
):
    task = run_command(database_url, commands.CreateTask(user_id="alice", title="before crash"))

    start_function("create_task", function_env)

    # No request: the worker relays what is pending as soon as it starts.
    wait_until(
        lambda: broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS),
        what="the pending task.created",
    )
    (created,) = broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)
    assert created.data["task_id"] == task["id"]


def started_after_its_start_up_relay(start_function, env, broker, database_url) -> str:
    """create-task relays what is pending as its worker starts, and a row stranded after that
    run has finished waits for the next /relay. Its metrics say when the run is over: the rows
    reaching the broker are not enough, as the run looks for pending rows once more after
    publishing (outbox_relay.relay_pending) and would publish a row committed meanwhile."""
    run_command(database_url, commands.CreateTask(user_id="alice", title="left by a crash"))
    url = start_function("create_task", env)
    wait_until(lambda: relay_runs(url) == 1, what="the start-up relay to finish")
    assert all(
        broker.events(catalogue.TASK_CREATED, topic)
        for topic in (catalogue.TOPIC_TASK_EVENTS, catalogue.TOPIC_TASK_UPDATES)
    )
    return url


def relay_runs(url: str, outcome: str = "ok") -> float:
    try:
        return scrape(url)("taskflow_outbox_relays_total", outcome=outcome)
    except requests.ConnectionError:
        return 0  # its metrics port is not listening yet


def test_a_relay_that_cannot_reach_the_broker_is_counted_for_the_operator(
    start_function, function_env, database_url
):
    """The TaskFlowOutboxStuck alert reads these: with the broker gone, the start-up relay
    fails, is counted as failed, and publishes nothing."""
    run_command(database_url, commands.CreateTask(user_id="alice", title="waits for the broker"))
    gone = f"http://127.0.0.1:{free_port()}"

    url = start_function("create_task", {**function_env, "BROKER_URL": gone})

    wait_until(lambda: relay_runs(url, "failed") == 1, what="the failed start-up relay")
    assert relay_runs(url, "ok") == 0
    assert scrape(url)("taskflow_outbox_published_total") == 0


def stranded(broker) -> int:
    return len(broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)) - 1


def test_the_relay_door_takes_only_the_platforms_timers(
    start_function, function_env, broker, database_url
):
    """/relay was open to anyone (issue 10): an unsigned ping, a user's or another service's
    token, or a Dapr app token where none is configured get 401 and publish nothing; the
    stranded row waits for a timer that signs (the PingSource's OIDC token, the local timers'
    delivery token)."""
    url = started_after_its_start_up_relay(start_function, function_env, broker, database_url)
    run_command(database_url, commands.CreateTask(user_id="alice", title="stranded"))
    relay_url = f"{url}/relay"
    write_audit = sender_identity.service_audience(NAMESPACE, "write-audit")
    create_task = sender_identity.service_audience(NAMESPACE, "create-task")
    attempts = {
        "no credential": {},
        "a token for write-audit": as_router.headers(write_audit),
        "the API's command token": as_api.headers(create_task),
        "a Dapr app token": {"dapr-api-token": "guessed"},
    }

    answers = {
        name: requests.post(relay_url, headers=extra, timeout=10)
        for name, extra in attempts.items()
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
        attempts, 401
    )
    assert {answer.json()["error"]["field"] for answer in answers.values()} == {"authorization"}
    assert stranded(broker) == 0
    signed = requests.post(relay_url, headers=headers_for(relay_url), timeout=10)
    assert signed.status_code == 202
    wait_until(lambda: stranded(broker) == 1, what="the stranded task.created")


def test_the_relay_door_opens_to_the_dapr_sidecars_app_token(
    start_function, function_env, broker, database_url
):
    """Beside a Dapr sidecar, daprd's cron binding calls /relay with only its app API token
    (APP_API_TOKEN, sent as `dapr-api-token`): that one opens the door, another does not."""
    env = {**function_env, "APP_API_TOKEN": "the-sidecars-token-0123"}
    url = started_after_its_start_up_relay(start_function, env, broker, database_url)
    run_command(database_url, commands.CreateTask(user_id="alice", title="stranded"))

    wrong = requests.post(f"{url}/relay", headers={"dapr-api-token": "not-it"}, timeout=10)
    assert wrong.status_code == 401
    assert stranded(broker) == 0
    right = requests.post(
        f"{url}/relay", headers={"dapr-api-token": "the-sidecars-token-0123"}, timeout=10
    )
    assert right.status_code == 202
    wait_until(lambda: stranded(broker) == 1, what="the stranded task.created")
