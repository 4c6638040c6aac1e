"""The router delivers like a Knative Kafka broker, observed from real subscriber servers."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import requests
from cloudevents.conversion import to_binary
from router_harness import (
    Delivery,
    Respond,
    RouterStarter,
    Subscribers,
    backlog,
    broker_yaml,
    dead_letters,
    event,
    send,
    trigger_yaml,
)
from sender_keys import headers_for
from taskflow_dev.local.launch import wait_until
from werkzeug.wrappers import Response

ALL_TASK_EVENTS = "[{prefix: {type: com.taskflow.task.}}]"


def reply_with(type_: str) -> Respond:
    def respond(delivery: Delivery) -> Response:
        reply = event(type_, id_=f"reply-{delivery.event['id']}", data={"from": "subscriber"})
        headers, body = to_binary(reply)
        return Response(body, status=200, headers=headers)

    return respond


def status(code: int, body: bytes = b"", content_type: str = "text/plain") -> Respond:
    return lambda _delivery: Response(body, status=code, content_type=content_type)


def test_delivers_in_binary_mode_with_prefer_reply_to_the_subscriber_path(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    audit = subscribers("write-audit")
    router = start_router(
        broker_yaml("task-events")
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS, uri="/deliver")
    )

    sent = event("com.taskflow.task.created", id_="e-1", data={"title": "milk"})
    assert send(router.url, "task-events", sent, mode="structured").status_code == 202

    wait_until(lambda: audit.received(), what="the delivery")
    (delivery,) = audit.received()
    assert delivery.path == "/deliver"
    assert delivery.headers["prefer"] == "reply"
    assert delivery.headers["ce-id"] == "e-1"
    assert delivery.headers["ce-type"] == "com.taskflow.task.created"
    assert delivery.headers["ce-partitionkey"] == "user-1"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.event.data == {"title": "milk"}


def test_only_triggers_whose_filters_match_receive_the_event(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    audit = subscribers("write-audit")
    recurrence = subscribers("spawn-recurrence")
    router = start_router(
        broker_yaml("task-events")
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
        + trigger_yaml(
            "recur",
            "task-events",
            "spawn-recurrence",
            "[{exact: {type: com.taskflow.task.completed}}]",
        )
    )

    send(router.url, "task-events", event("com.taskflow.task.created", id_="created"))
    send(router.url, "task-events", event("com.taskflow.task.completed", id_="completed"))
    send(router.url, "task-events", event("com.taskflow.reminder.due", id_="reminder"))

    wait_until(lambda: backlog(router.url) == 0 and len(audit.ids()) == 2, what="deliveries")
    assert sorted(audit.ids()) == ["completed", "created"]
    assert recurrence.ids() == ["completed"]


def test_a_reply_re_enters_the_same_broker(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    subscribers("spawn-recurrence", reply_with("com.taskflow.command.task.spawn"))
    create_task = subscribers("create-task")
    router = start_router(
        broker_yaml("task-events")
        + trigger_yaml(
            "recur",
            "task-events",
            "spawn-recurrence",
            "[{exact: {type: com.taskflow.task.completed}}]",
        )
        + trigger_yaml(
            "commands",
            "task-events",
            "create-task",
            "[{prefix: {type: com.taskflow.command.task.}}]",
        )
    )

    send(router.url, "task-events", event("com.taskflow.task.completed", id_="done-1"))

    wait_until(lambda: create_task.received(), what="the reply to reach create-task")
    (command,) = create_task.received()
    assert command.event["id"] == "reply-done-1"
    assert command.event["type"] == "com.taskflow.command.task.spawn"
    assert command.event.data == {"from": "subscriber"}


def test_an_empty_answer_is_an_acknowledgement(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    audit = subscribers("write-audit", status(200))
    router = start_router(
        broker_yaml("task-events", retry=3)
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )

    send(router.url, "task-events", event("com.taskflow.task.created", id_="ok"))

    wait_until(lambda: audit.received() and backlog(router.url) == 0, what="the delivery")
    assert audit.ids() == ["ok"]
    assert dead_letters(router.url) == []


def test_a_200_with_a_body_that_is_not_a_cloudevent_fails_into_the_dead_letter_sink(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    # functions-framework's @cloud_event answers 200 "OK": the Kafka broker counts it as failed.
    audit = subscribers("write-audit", status(200, b"OK"))
    router = start_router(
        broker_yaml("task-events", retry=3)
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )

    send(router.url, "task-events", event("com.taskflow.task.created", id_="says-ok"))

    wait_until(lambda: dead_letters(router.url), what="the dead letter")
    (letter,) = dead_letters(router.url)
    assert letter["id"] == "says-ok"
    assert letter["knativeerrordest"] == audit.url
    assert letter["knativeerrorcode"] == "200"
    assert base64.b64decode(letter["knativeerrordata"]) == b"OK"
    # As upstream, the response check runs after the sender's retries: one attempt only.
    assert audit.ids() == ["says-ok"]


def test_a_server_error_is_retried_then_dead_lettered_and_kept_across_restarts(
    subscribers: Subscribers, start_router: RouterStarter, tmp_path: Path
) -> None:
    audit = subscribers("write-audit", status(503, b'{"error": "down"}', "application/json"))
    router = start_router(
        broker_yaml("task-events", retry=4, policy="exponential")
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )

    send(router.url, "task-events", event("com.taskflow.task.created", id_="unlucky"))

    wait_until(lambda: dead_letters(router.url), what="the dead letter")
    assert audit.ids() == ["unlucky"] * 5  # the first attempt and 4 retries
    (letter,) = dead_letters(router.url)
    assert letter["knativeerrorcode"] == "503"
    assert json.loads(base64.b64decode(letter["knativeerrordata"])) == {"error": "down"}
    assert letter["data"] == {"n": 1}
    stored = (tmp_path / "data" / "dead-letters.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in stored] == ["unlucky"]
    router.close()
    restarted = start_router(broker_yaml("task-events"))
    assert [letter["id"] for letter in dead_letters(restarted.url)] == ["unlucky"]


def test_a_client_error_is_not_retried(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    audit = subscribers("write-audit", status(400, b'{"error": "bad"}', "application/json"))
    router = start_router(
        broker_yaml("task-events", retry=4)
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )

    send(router.url, "task-events", event("com.taskflow.task.created", id_="rejected"))

    wait_until(lambda: dead_letters(router.url), what="the dead letter")
    assert audit.ids() == ["rejected"]
    assert dead_letters(router.url)[0]["knativeerrorcode"] == "400"


def test_a_subscriber_that_recovers_gets_the_event_without_a_dead_letter(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    answers = iter([503, 503, 202])
    audit = subscribers("write-audit", lambda _delivery: Response(status=next(answers)))
    router = start_router(
        broker_yaml("task-events", retry=5, policy="linear")
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )

    send(router.url, "task-events", event("com.taskflow.task.created", id_="third-time"))

    wait_until(lambda: len(audit.ids()) == 3 and backlog(router.url) == 0, what="recovery")
    assert dead_letters(router.url) == []


def test_one_users_events_arrive_in_order_while_other_users_proceed(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    release_alice = threading.Event()

    def respond(delivery: Delivery) -> Response:
        if delivery.event["partitionkey"] == "alice":
            release_alice.wait(timeout=20)
        return Response(status=202)

    audit = subscribers("write-audit", respond)
    router = start_router(
        broker_yaml("task-events")
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )

    for n in range(10):
        for user in ("alice", "bob"):
            sent = event("com.taskflow.task.updated", user=user, id_=f"{user}-{n}")
            assert send(router.url, "task-events", sent).status_code == 202

    # Alice's first delivery is stuck; Bob's ten are delivered meanwhile, Alice's others wait.
    bob_ids = [f"bob-{n}" for n in range(10)]
    wait_until(lambda: [i for i in audit.ids() if i.startswith("bob")] == bob_ids, what="bob")
    assert [i for i in audit.ids() if i.startswith("alice")] == ["alice-0"]

    release_alice.set()
    alice_ids = [f"alice-{n}" for n in range(10)]
    wait_until(lambda: [i for i in audit.ids() if i.startswith("alice")] == alice_ids, what="alice")


def test_the_ingress_refuses_what_is_not_a_cloudevent_and_unknown_brokers(
    start_router: RouterStarter,
) -> None:
    router = start_router(broker_yaml("task-events"))

    plain = send_raw(router.url, "task-events", b'{"title": "x"}', "application/json")
    assert plain.status_code == 400
    assert "not a CloudEvent" in plain.json()["error"]["reason"]

    unknown = send(router.url, "no-such-broker", event("com.taskflow.task.created"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "reason": "no broker named 'no-such-broker'",
        "field": "broker",
    }


def send_raw(router_url: str, broker: str, body: bytes, content_type: str) -> requests.Response:
    url = f"{router_url}/taskflow/{broker}"
    headers = {"content-type": content_type, **headers_for(url)}
    return requests.post(url, data=body, headers=headers, timeout=5)


def test_events_with_non_json_data_pass_through_and_dead_letter_as_json(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    audit = subscribers("write-audit", status(500))
    router = start_router(
        broker_yaml("task-events")
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "com.taskflow.task.created",
        "ce-source": "tests/router",
        "ce-id": "bytes-1",
        "content-type": "application/octet-stream",
    }

    ingress = f"{router.url}/taskflow/task-events"
    accepted = requests.post(
        ingress, data=b"\x00\x01", headers=headers | headers_for(ingress), timeout=5
    )

    assert accepted.status_code == 202
    wait_until(lambda: dead_letters(router.url), what="the dead letter")
    assert audit.received()[0].event.data == b"\x00\x01"
    assert base64.b64decode(dead_letters(router.url)[0]["data_base64"]) == b"\x00\x01"
