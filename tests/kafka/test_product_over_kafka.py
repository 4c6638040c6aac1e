"""The product over Kafka (`just up --kafka`) survives its event router being killed and Kafka
itself being stopped in the middle of a stream of commands: afterwards every task, audit row,
broadcast and reminder is there exactly once.

The router's SIGKILL leaves deliveries it had not committed; after the runner restarts it, its
consumer groups get them again and the idempotent functions absorb the copies. While Kafka is
down the router's ingress answers 503, so create-task's outbox keeps the events and its relay
publishes them once Kafka is back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from infra_services import run_script
from kafka_product import LiveClient, Product, User
from taskflow_dev.local.launch import wait_until

pytestmark = pytest.mark.kafka

TASKS = 24
SETTLE_TIMEOUT_SECONDS = 120.0


@pytest.fixture
def product(tmp_path: Path, kafka_bootstrap: str, group_prefix: str) -> Iterator[Product]:
    started = Product(tmp_path, kafka_bootstrap, group_prefix)
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


@pytest.fixture
def user(product: Product) -> User:
    return User(product.url("web"))


@pytest.fixture
def live(product: Product, user: User) -> Iterator[LiveClient]:
    client = LiveClient(product.url("broadcast_update"), user.token)
    yield client
    client.close()


def assert_everything_exactly_once(
    product: Product, user: User, live: LiveClient, created: list[str], reminded: list[str]
) -> None:
    def settled() -> bool:
        try:
            return (
                len(live.counts("task.created")) == len(created)
                and len(live.counts("reminder.due")) == len(reminded)
                and all(len(user.history(task)) >= 1 for task in created)
                and product.router_health()["backlog"] == 0
            )
        except requests.RequestException:  # the router restarting, or Kafka stopped
            return False

    try:
        wait_until(settled, what="every effect of the stream", timeout=SETTLE_TIMEOUT_SECONDS)
    except TimeoutError:
        pytest.fail(
            f"not settled: {len(user.task_ids())}/{len(created)} tasks,"
            f" broadcasts {live.counts('task.created')}, reminders {live.counts('reminder.due')},"
            f" router {product.router_health_or_error()}\n{product.output()[-6000:]}"
        )
    assert sorted(user.task_ids()) == sorted(created)
    assert {task: len(user.history(task)) for task in created} == dict.fromkeys(created, 1)
    assert live.counts("task.created") == dict.fromkeys(created, 1)
    assert live.counts("reminder.due") == dict.fromkeys(reminded, 1)
    assert product.dead_letters() == []


def test_a_router_killed_mid_stream_loses_and_duplicates_nothing(
    product: Product, user: User, live: LiveClient
) -> None:
    assert "router backing: Kafka" in product.output()  # `just up --kafka` says where it is
    created = [user.create_task({"title": f"before {n}"}) for n in range(TASKS // 2)]
    first_router = product.router_pid()
    os.kill(first_router, signal.SIGKILL)
    # Writes go on while no router runs: their events wait in the outbox.
    created += [user.create_task({"title": f"after {n}"}) for n in range(TASKS // 2)]

    wait_until(lambda: "restarting it (once)" in product.output(), what="the router's restart")
    assert product.router_pid() != first_router
    assert_everything_exactly_once(product, user, live, created, reminded=[])


def test_kafka_stopped_and_started_mid_stream_loses_and_duplicates_nothing(
    product: Product, user: User, live: LiveClient
) -> None:
    # Reminders that fall due while Kafka is down: their reminder.due events wait in the outbox.
    soon = (datetime.now(UTC) + timedelta(seconds=12)).isoformat()
    reminded = [
        user.create_task({"title": f"remind {n}", "reminders": [{"at": soon}]}) for n in range(3)
    ]
    created = reminded + [user.create_task({"title": f"before {n}"}) for n in range(TASKS // 3)]

    stopped = run_script("kafka.sh", "stop")
    assert stopped.returncode == 0, stopped.stderr
    try:
        created += [user.create_task({"title": f"during {n}"}) for n in range(TASKS // 3)]
    finally:
        restarted = run_script("kafka.sh", "start")
    assert restarted.returncode == 0, restarted.stderr
    created += [user.create_task({"title": f"after {n}"}) for n in range(TASKS // 3)]

    assert_everything_exactly_once(product, user, live, created, reminded)


def test_a_router_over_a_missing_topic_refuses_to_start(
    tmp_path: Path, kafka_bootstrap: str, group_prefix: str
) -> None:
    eventing_dir = tmp_path / "eventing"
    eventing_dir.mkdir()
    (eventing_dir / "eventing.yaml").write_text(
        "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: no-such-topic}\n"
        "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\n"
        "spec:\n  broker: no-such-topic\n  subscriber: {uri: 'http://127.0.0.1:9/'}\n"
    )
    result = subprocess.run(
        [
            *(sys.executable, "-m", "taskflow_dev.router", "--backing", "kafka", "--port", "0"),
            *("--eventing-dir", str(eventing_dir)),
        ],
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP": kafka_bootstrap,
            "TASKFLOW_KAFKA_GROUP_PREFIX": group_prefix,
            "TASKFLOW_DATA_DIR": str(tmp_path / "data"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "no topic no-such-topic" in result.stderr
