"""daprd, built from the pinned release and run with dapr/components/local against the real Kafka,
PostgreSQL and scheduler, provides each building block TaskFlow uses: state, secrets, pub/sub and
the Jobs API."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent
from cloudevents.kafka import to_binary
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from infra_services import (
    EVENTS_ROUTE,
    PUBSUB,
    RecordingApp,
    Sidecar,
    daprd,
    delete_command,
)
from taskflow import catalogue
from taskflow.catalogue import TOPIC_TASK_EVENTS
from taskflow_dev.local.launch import wait_until

pytestmark = pytest.mark.infra

DELIVERY_TIMEOUT_SECONDS = 30
# The sweep's schedule is `@every 15s`: the first call comes 15 s after daprd starts.
SWEEP_TIMEOUT_SECONDS = 40
# scripts/kafka.sh creates every topic with this many partitions.
PARTITIONS = 3


def publish_through_dapr(sidecar: Sidecar, event: CloudEvent) -> None:
    """Publish a structured CloudEvent to task-events, keyed by its partitionkey (the user)."""
    headers, body = to_structured(event)
    published = requests.post(
        f"{sidecar.http_url}/v1.0/publish/{PUBSUB}/{TOPIC_TASK_EVENTS}",
        params={"metadata.partitionKey": event["partitionkey"]},
        headers=headers,
        data=body,
        timeout=10,
    )
    assert published.status_code == 204, published.text


def test_state_saved_through_dapr_is_read_back_and_kept_in_postgresql(
    sidecar: Sidecar, state_database_url: str
) -> None:
    key = f"conversation-{uuid.uuid4().hex[:8]}"
    conversation = {"messages": [{"role": "user", "content": "remind me to water the plants"}]}

    saved = requests.post(
        f"{sidecar.http_url}/v1.0/state/statestore",
        json=[{"key": key, "value": conversation}],
        timeout=10,
    )

    assert saved.status_code == 204, saved.text
    read = requests.get(f"{sidecar.http_url}/v1.0/state/statestore/{key}", timeout=10)
    assert read.json() == conversation
    engine = sa.create_engine(state_database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT value FROM dapr_state WHERE key = :key"),
                {"key": f"{sidecar.app_id}||{key}"},
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored == conversation


def test_a_secret_is_read_from_the_local_file_store(
    sidecar: Sidecar, sidecar_secrets: dict[str, str]
) -> None:
    answer = requests.get(f"{sidecar.http_url}/v1.0/secrets/local-secrets/JWT_SECRET", timeout=10)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"JWT_SECRET": sidecar_secrets["JWT_SECRET"]}


def test_an_event_published_to_kafka_pubsub_reaches_the_subscribed_app(
    sidecar: Sidecar, recording_app: RecordingApp
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    event = delete_command(user_id, task_id=3)
    publish_through_dapr(sidecar, event)

    def delivered() -> list[dict]:
        bodies = [request.json() for request in recording_app.requests_to(EVENTS_ROUTE)]
        return [body for body in bodies if body.get("id") == event["id"]]

    wait_until(delivered, what="the event at the app", timeout=DELIVERY_TIMEOUT_SECONDS)
    (received,) = delivered()
    assert received["type"] == catalogue.DELETE_TASK
    assert received["data"] == {"user_id": user_id, "task_id": 3}


def test_dapr_puts_a_user_on_the_partition_the_python_client_picks(
    sidecar: Sidecar, kafka_bootstrap: str
) -> None:
    """Per-user order needs every producer of a topic to agree on the partition of a key: daprd
    (sarama's FNV-1a hash) and librdkafka with partitioner=fnv1a do."""
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    event = delete_command(user_id, task_id=5)
    reader = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "infra-smoke-reader"})
    try:
        starts = [
            TopicPartition(
                TOPIC_TASK_EVENTS,
                partition,
                reader.get_watermark_offsets(
                    TopicPartition(TOPIC_TASK_EVENTS, partition), timeout=10
                )[1],
            )
            for partition in range(PARTITIONS)
        ]
        publish_through_dapr(sidecar, event)
        reader.assign(starts)
        record = next_record_with(reader, event["id"].encode())
    finally:
        reader.close()

    assert record.key() == user_id.encode()
    assert record.partition() == partition_picked_by_python_client(kafka_bootstrap, user_id)


def next_record_with(reader: Consumer, marker: bytes) -> Message:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        record = reader.poll(1.0)
        if record is not None and not record.error() and marker in record.value():
            return record
    raise AssertionError(f"no record containing {marker!r} within {DELIVERY_TIMEOUT_SECONDS}s")


def partition_picked_by_python_client(bootstrap: str, user_id: str) -> int:
    """Where librdkafka puts another of the user's events (a real one: the topic stays clean)."""
    record = to_binary(delete_command(user_id, task_id=6))
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "fnv1a"})
    partitions: list[int] = []
    producer.produce(
        TOPIC_TASK_EVENTS,
        key=record.key,
        value=record.value,
        headers=list(record.headers.items()),
        on_delivery=lambda error, message: partitions.append(message.partition()),
    )
    producer.flush(DELIVERY_TIMEOUT_SECONDS)
    (partition,) = partitions
    return partition


def test_service_invocation_finds_the_callee_by_sqlite_name_resolution(
    sidecar: Sidecar, recording_app: RecordingApp, sidecar_env: dict[str, str], tmp_path: Path
) -> None:
    """A second sidecar reaches the first by app id alone: the sqlite resolver that the wrapper
    module registers is what maps the id to an address on this host."""
    command = {"user_id": f"user-{uuid.uuid4().hex[:8]}", "task_id": 9}
    caller_app = RecordingApp(subscriptions=[])

    with (
        caller_app.serving() as caller_port,
        daprd("infra-smoke-caller", caller_port, sidecar_env, tmp_path / "caller.log") as caller,
    ):
        answer = requests.post(
            f"{caller.http_url}/v1.0/invoke/{sidecar.app_id}/method/commands",
            json=command,
            timeout=30,
        )

    assert answer.status_code == 200, answer.text
    assert [request.json() for request in recording_app.requests_to("/commands")] == [command]


def test_the_reminder_sweep_cron_calls_send_reminder(
    dapr_scheduler: dict[str, str], sidecar_env: dict[str, str], tmp_path: Path
) -> None:
    """reminder-sweep.yaml is scoped to send-reminder and fires on its schedule (every 15 s)."""
    send_reminder = RecordingApp(subscriptions=[])

    with (
        send_reminder.serving() as port,
        daprd("send-reminder", port, sidecar_env, tmp_path / "send-reminder.log"),
    ):
        wait_until(
            lambda: send_reminder.requests_to("/reminder-sweep"),
            what="the reminder sweep's call",
            timeout=SWEEP_TIMEOUT_SECONDS,
        )


def test_a_job_calls_the_app_back_when_it_falls_due(
    sidecar: Sidecar, recording_app: RecordingApp
) -> None:
    name = f"reminder-{uuid.uuid4().hex[:8]}"
    due = datetime.now(UTC) + timedelta(seconds=2)
    data = {"task_id": 42, "reminder_id": "r1"}

    scheduled = requests.post(
        f"{sidecar.http_url}/v1.0/jobs/{name}",
        json={"dueTime": due.isoformat(timespec="seconds"), "data": data},
        timeout=10,
    )

    assert scheduled.status_code == 204, scheduled.text
    callback = f"/job/{name}"
    wait_until(
        lambda: recording_app.requests_to(callback),
        what=f"the call back at {callback}",
        timeout=DELIVERY_TIMEOUT_SECONDS,
    )
    (call,) = recording_app.requests_to(callback)
    assert call.json() == data
