"""A Kafka-backed `python -m taskflow_dev.router` SIGKILLed while a delivery is in flight: after a
restart its consumer group gets that event and the ones queued behind it again, so every event
is delivered at least once, in each user's order."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from router_harness import Delivery, Subscribers, broker_yaml, event, send, trigger_yaml
from sender_keys import ROUTER, known_as
from taskflow.config import REPO_ROOT
from taskflow_dev.local.launch import free_port, wait_until
from werkzeug.wrappers import Response

pytestmark = pytest.mark.kafka

HELD = "ann-2"


class KafkaRouterProcess:
    def __init__(self, tmp_path: Path, topic: str, env: dict[str, str], audit_url: str) -> None:
        eventing_dir = tmp_path / "eventing"
        eventing_dir.mkdir(exist_ok=True)
        (eventing_dir / "eventing.yaml").write_text(
            broker_yaml(topic)
            + trigger_yaml("audit", topic, "write-audit", "[{prefix: {type: com.taskflow.}}]")
        )
        port = free_port()
        self.url = known_as(f"http://127.0.0.1:{port}", ROUTER)
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "taskflow_dev.router", "--backing", "kafka"),
                *("--port", str(port), "--eventing-dir", str(eventing_dir)),
                *("--subscriber", f"write-audit={audit_url}"),
            ],
            env={**os.environ, **env, "TASKFLOW_DATA_DIR": str(tmp_path / "data")},
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, what="the router to start", timeout=90)

    def _answers(self) -> bool:
        assert self.process.poll() is None, "the router exited"
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()


@pytest.fixture
def routers() -> Iterator[list[KafkaRouterProcess]]:
    started: list[KafkaRouterProcess] = []
    yield started
    for router in started:
        router.kill()


def test_a_delivery_in_flight_when_the_router_dies_comes_again_after_restart(
    tmp_path: Path,
    subscribers: Subscribers,
    routers: list[KafkaRouterProcess],
    new_topics: Callable[[int], list[str]],
    kafka_bootstrap: str,
    group_prefix: str,
) -> None:
    (topic,) = new_topics(1)
    release = threading.Event()

    def hold_the_first_copy(delivery: Delivery) -> Response:
        if delivery.event["id"] == HELD and audit.ids().count(HELD) == 1:
            release.wait(30)  # the router is killed while it waits for this answer
        return Response(status=202)

    audit = subscribers("write-audit", hold_the_first_copy)
    env = {"KAFKA_BOOTSTRAP": kafka_bootstrap, "TASKFLOW_KAFKA_GROUP_PREFIX": group_prefix}
    first = KafkaRouterProcess(tmp_path, topic, env, audit.url)
    routers.append(first)

    sent = [f"ann-{n}" for n in range(6)]
    for id_ in sent:
        assert send(first.url, topic, event("com.taskflow.task.updated", user="ann", id_=id_)).ok
    wait_until(lambda: HELD in audit.ids(), what="the delivery that is held")
    first.kill()
    release.set()
    assert audit.ids()[-1] == HELD  # the events behind it were not delivered yet

    second = KafkaRouterProcess(tmp_path, topic, env, audit.url)
    routers.append(second)
    wait_until(lambda: audit.ids()[-1:] == [sent[-1]], what="the rest after the restart")

    received = audit.ids()
    assert received.count(HELD) == 2  # at least once: the unfinished delivery came again
    first_copies = list(dict.fromkeys(received))
    assert first_copies == sent
