"""Fixtures of the Kafka-backed router tests: the Kafka of scripts/kafka.sh (started here when
it does not run, stopped afterwards only then), and topics and consumer groups of one test's own,
so tests never read each other's events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from infra_services import script_service
from router_harness import Subscribers
from sender_keys import ROUTER, known_as
from taskflow_dev.router.kafka_eventlog import KafkaEventLog
from taskflow_dev.router.server import RouterServer

PARTITIONS = 3  # as scripts/kafka.sh creates the product's topics
ADMIN_TIMEOUT_SECONDS = 30


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with script_service("kafka.sh") as exports:
        yield exports["KAFKA_BOOTSTRAP"]


@pytest.fixture
def group_prefix() -> str:
    """Consumer groups no other test or `just up` uses: each starts at the end of its topic."""
    return f"taskflow-test-{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def new_topics(kafka_bootstrap: str) -> Iterator[Callable[[int], list[str]]]:
    """`new_topics(n)` creates n fresh topics (3 partitions) and returns their names; they are
    deleted after the test."""
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    created: list[str] = []

    def create(count: int) -> list[str]:
        names = [f"taskflow-test-{uuid.uuid4().hex[:8]}" for _ in range(count)]
        futures = admin.create_topics(
            [NewTopic(name, PARTITIONS, 1) for name in names], request_timeout=30
        )
        for future in futures.values():
            future.result(timeout=ADMIN_TIMEOUT_SECONDS)
        created.extend(names)
        return names

    yield create
    if created:
        for future in admin.delete_topics(created, request_timeout=30).values():
            future.result(timeout=ADMIN_TIMEOUT_SECONDS)


@pytest.fixture
def subscribers() -> Iterator[Subscribers]:
    started = Subscribers()
    yield started
    started.close()


@pytest.fixture
def start_kafka_router(
    tmp_path: Path, subscribers: Subscribers, kafka_bootstrap: str, group_prefix: str
) -> Iterator[Callable[[str], RouterServer]]:
    """`start(manifests_yaml)`: a RouterServer backed by KafkaEventLog, with every Service name
    pointing at the subscribers started so far."""
    routers: list[RouterServer] = []

    def start(manifests_yaml: str) -> RouterServer:
        eventing_dir = tmp_path / f"eventing-{len(routers)}"
        eventing_dir.mkdir()
        (eventing_dir / "eventing.yaml").write_text(manifests_yaml)
        addresses = {name: subscriber.url for name, subscriber in subscribers.started.items()}
        log = KafkaEventLog(kafka_bootstrap, group_prefix=group_prefix)
        router = RouterServer(eventing_dir, addresses, tmp_path / "data", event_log=log).start()
        known_as(router.url, ROUTER)
        routers.append(router)
        return router

    yield start
    for router in routers:
        router.close()
