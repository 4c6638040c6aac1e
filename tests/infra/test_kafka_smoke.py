"""The single-node Kafka of scripts/kafka.sh carries TaskFlow's CloudEvents the way the design
needs: keyed by user, one user's events in order on one partition, and a consumer that stops
before committing gets the uncommitted events again."""

from __future__ import annotations

import time
import uuid

import pytest
from cloudevents.kafka import KafkaMessage, from_binary, to_binary
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from infra_services import delete_command
from taskflow import catalogue
from taskflow.catalogue import TOPIC_TASK_EVENTS

pytestmark = pytest.mark.infra

POLL_TIMEOUT_SECONDS = 30


def produce(bootstrap: str, events: list) -> list[Message]:
    """Produce binary-mode CloudEvents (key = partitionkey) and return their delivery reports."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    delivered: list[Message] = []

    def on_delivery(error, message: Message) -> None:
        if error is not None:
            raise KafkaException(error)
        delivered.append(message)

    for event in events:
        record = to_binary(event)
        producer.produce(
            TOPIC_TASK_EVENTS,
            key=record.key,
            value=record.value,
            headers=list(record.headers.items()),
            on_delivery=on_delivery,
        )
    assert producer.flush(POLL_TIMEOUT_SECONDS) == 0, "some events were not delivered"
    return delivered


def consume(consumer: Consumer, count: int) -> list[Message]:
    messages: list[Message] = []
    deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        messages.append(message)
    return messages


def as_cloudevent(message: Message):
    return from_binary(
        KafkaMessage(headers=dict(message.headers()), key=message.key(), value=message.value())
    )


@pytest.fixture
def consumer_group(kafka_bootstrap: str) -> dict[str, str | bool]:
    """A new consumer group that commits only by hand."""
    return {
        "bootstrap.servers": kafka_bootstrap,
        "group.id": f"infra-smoke-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "latest",
    }


def test_a_cloudevent_travels_keyed_by_its_user(kafka_bootstrap: str) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    sent = delete_command(user_id, task_id=7)

    (report,) = produce(kafka_bootstrap, [sent])

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "infra-smoke-reader"})
    try:
        consumer.assign([TopicPartition(TOPIC_TASK_EVENTS, report.partition(), report.offset())])
        (received,) = consume(consumer, 1)
    finally:
        consumer.close()
    assert received.key() == user_id.encode()
    event = as_cloudevent(received)
    assert event["id"] == sent["id"]
    assert event["type"] == catalogue.DELETE_TASK
    assert event.data == {"user_id": user_id, "task_id": 7}


def test_one_users_events_stay_on_one_partition_in_order(kafka_bootstrap: str) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    sent = [delete_command(user_id, task_id) for task_id in range(1, 7)]

    reports = produce(kafka_bootstrap, sent)

    assert len({report.partition() for report in reports}) == 1
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "infra-smoke-reader"})
    try:
        first = reports[0]
        consumer.assign([TopicPartition(TOPIC_TASK_EVENTS, first.partition(), first.offset())])
        received = consume(consumer, len(sent))
    finally:
        consumer.close()
    assert [as_cloudevent(message)["id"] for message in received] == [e["id"] for e in sent]


def test_uncommitted_events_are_delivered_again_to_the_group(
    kafka_bootstrap: str, consumer_group: dict[str, str | bool]
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    sent = [delete_command(user_id, task_id) for task_id in range(1, 4)]
    reports = produce(kafka_bootstrap, sent)
    partition, start = reports[0].partition(), reports[0].offset()

    def start_at_our_events(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for assigned in partitions:
            if assigned.partition == partition:
                assigned.offset = start
        consumer.assign(partitions)

    crashing = Consumer(consumer_group)
    crashing.subscribe([TOPIC_TASK_EVENTS], on_assign=start_at_our_events)
    try:
        first, *_unacknowledged = consume(crashing, len(sent))
        crashing.commit(message=first, asynchronous=False)
    finally:
        # Closing without committing the other two is what a crash after the first one leaves.
        crashing.close()

    restarted = Consumer(consumer_group)
    restarted.subscribe([TOPIC_TASK_EVENTS])
    try:
        redelivered = consume(restarted, len(sent) - 1)
    finally:
        restarted.close()
    assert [as_cloudevent(message)["id"] for message in redelivered] == [
        event["id"] for event in sent[1:]
    ]
