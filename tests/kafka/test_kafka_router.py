"""The router backed by Kafka (KafkaEventLog) routes like the SQLite-backed one: each Trigger
applies its filter, a reply re-enters its broker, one user's events arrive in order; and what the
ingress accepted is a Knative-style record on the broker's topic (binary mode, keyed by user)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from confluent_kafka import Consumer, TopicPartition
from router_harness import (
    Delivery,
    Subscribers,
    backlog,
    broker_yaml,
    dead_letters,
    event,
    send,
    trigger_yaml,
)
from taskflow_dev.local.launch import wait_until
from taskflow_dev.router.server import RouterServer
from werkzeug.wrappers import Response

pytestmark = pytest.mark.kafka

TASK_EVENTS_TRIGGERS = [
    ("audit", "write-audit", "[{prefix: {type: com.taskflow.task.}}]"),
    ("spawn", "spawn-recurrence", "[{exact: {type: com.taskflow.task.completed}}]"),
    ("commands", "create-task", "[{prefix: {type: com.taskflow.command.task.}}]"),
]


def manifests(broker: str, triggers: list[tuple[str, str, str]]) -> str:
    return broker_yaml(broker) + "".join(
        trigger_yaml(name, broker, service, filters) for name, service, filters in triggers
    )


def spawn_reply(delivery: Delivery) -> Response:
    completed = delivery.event
    reply = CloudEvent(
        {
            "type": "com.taskflow.command.task.spawn",
            "source": "tests/kafka",
            "id": f"spawn-{completed['id']}",
            "partitionkey": completed["partitionkey"],
        },
        {"completed": completed["id"]},
    )
    headers, body = to_binary(reply)
    return Response(body, status=200, headers=headers)


def records_of(bootstrap: str, topic: str, count: int) -> list:
    """Every record of a fresh topic, read from the start of each partition."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": "tests-kafka-reader"})
    reader.assign([TopicPartition(topic, partition, 0) for partition in range(3)])
    records = []
    deadline = time.monotonic() + 30
    try:
        while len(records) < count and time.monotonic() < deadline:
            message = reader.poll(0.5)
            if message is not None and message.error() is None:
                records.append(message)
    finally:
        reader.close()
    return records


def test_triggers_filter_replies_reenter_and_records_are_knative_binary(
    subscribers: Subscribers,
    start_kafka_router: Callable[[str], RouterServer],
    new_topics: Callable[[int], list[str]],
    kafka_bootstrap: str,
) -> None:
    (topic,) = new_topics(1)
    audit = subscribers("write-audit")
    spawn = subscribers("spawn-recurrence", spawn_reply)
    create = subscribers("create-task")
    router = start_kafka_router(manifests(topic, TASK_EVENTS_TRIGGERS))

    created = event("com.taskflow.task.created", user="ann", id_="created-1", data={"n": 1})
    completed = event("com.taskflow.task.completed", user="ann", id_="completed-1")
    unrelated = event("com.example.other", user="ann", id_="other-1")
    for sent in (created, completed, unrelated):
        assert send(router.url, topic, sent).status_code == 202

    wait_until(lambda: create.ids() == ["spawn-completed-1"], what="the reply at create-task")
    wait_until(lambda: backlog(router.url) == 0, what="every delivery to finish")
    assert audit.ids() == ["created-1", "completed-1"]
    assert spawn.ids() == ["completed-1"]
    assert dead_letters(router.url) == []

    # The three events and the reply are records of the broker's topic, as Knative writes them.
    records = {
        dict(record.headers())["ce_id"].decode(): record
        for record in records_of(kafka_bootstrap, topic, 4)
    }
    assert set(records) == {"created-1", "completed-1", "other-1", "spawn-completed-1"}
    record = records["created-1"]
    headers = dict(record.headers())
    assert record.key() == b"ann"
    assert headers["ce_type"] == b"com.taskflow.task.created"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    assert json.loads(record.value()) == {"n": 1}
    # One user's events, the reply included, share a partition: that is what keeps them in order.
    assert len({r.partition() for r in records.values()}) == 1


def test_each_users_events_arrive_in_order_while_users_interleave(
    subscribers: Subscribers,
    start_kafka_router: Callable[[str], RouterServer],
    new_topics: Callable[[int], list[str]],
) -> None:
    (topic,) = new_topics(1)
    users = [f"user-{n}" for n in range(6)]
    per_user = 12

    def slow_acknowledge(_delivery: Delivery) -> Response:
        time.sleep(random.uniform(0, 0.01))
        return Response(status=202)

    audit = subscribers("write-audit", slow_acknowledge)
    router = start_kafka_router(manifests(topic, TASK_EVENTS_TRIGGERS[:1]))

    def publish(user: str) -> None:
        for n in range(per_user):
            sent = event("com.taskflow.task.updated", user=user, id_=f"{user}-{n:02d}")
            assert send(router.url, topic, sent).status_code == 202

    publishers = [threading.Thread(target=publish, args=(user,)) for user in users]
    for publisher in publishers:
        publisher.start()
    for publisher in publishers:
        publisher.join()

    wait_until(
        lambda: len(audit.ids()) >= len(users) * per_user and backlog(router.url) == 0,
        what="every event",
    )
    received = audit.ids()
    for user in users:
        mine = [id_ for id_ in received if id_.startswith(f"{user}-")]
        assert mine == [f"{user}-{n:02d}" for n in range(per_user)]
