"""Fixtures of the router tests: real HTTP around the router (see router_harness.py).

- `subscribers(name, respond)` starts an HTTP server standing for the Knative Service `name`.
- `start_router(manifests_yaml)` starts a RouterServer on a free port reading those manifests,
  with every Service name pointing at the subscribers started so far.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from router_harness import RouterStarter, Subscribers
from sender_keys import ROUTER, known_as
from taskflow_dev.router.server import RouterServer


@pytest.fixture
def subscribers() -> Iterator[Subscribers]:
    started = Subscribers()
    yield started
    started.close()


@pytest.fixture
def start_router(tmp_path: Path, subscribers: Subscribers) -> Iterator[RouterStarter]:
    routers: list[RouterServer] = []

    def start(manifests_yaml: str) -> RouterServer:
        eventing_dir = tmp_path / f"eventing-{len(routers)}"
        eventing_dir.mkdir()
        (eventing_dir / "eventing.yaml").write_text(manifests_yaml)
        addresses = {name: subscriber.url for name, subscriber in subscribers.started.items()}
        router = RouterServer(eventing_dir, addresses, tmp_path / "data").start()
        known_as(router.url, ROUTER)
        routers.append(router)
        return router

    yield start
    for router in routers:
        router.close()
