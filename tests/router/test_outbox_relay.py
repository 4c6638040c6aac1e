"""The outbox relay publishes what committed writes left behind, in order within each topic, and
loses nothing when the broker is down or the process dies between the commit and the publish.

The topics' streams go out side by side (service_layer/outbox_relay.py), so the order to check is
each topic's own: that is what each broker's Triggers see."""

from __future__ import annotations

import functools
import threading
import uuid
from datetime import UTC, datetime

import pytest
from router_harness import Delivery, Subscribers
from sender_keys import as_outbox_relay
from sqlalchemy.engine import Engine
from taskflow import catalogue
from taskflow.adapters.publisher import HttpPublisher, PublishError
from taskflow.domain import commands
from taskflow.service_layer import task_commands
from taskflow.service_layer.outbox_relay import relay_pending
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork
from werkzeug.wrappers import Response

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TOPICS_OF_A_TASK_EVENT = [catalogue.TOPIC_TASK_EVENTS, catalogue.TOPIC_TASK_UPDATES]


def create_task(factory: Engine, user: str, title: str) -> None:
    """A committed write whose relay never ran (as if the process died right after commit)."""
    task_commands.handle(
        commands.CreateTask(user_id=user, title=title),
        SqlAlchemyUnitOfWork(factory),
        command_id=str(uuid.uuid4()),
        source="/tests",
        now=NOW,
    )


def pending(factory: Engine) -> list[tuple[str, str]]:
    with SqlAlchemyUnitOfWork(factory) as uow:
        return [(m.topic, m.event["id"]) for m in uow.outbox.pending(1000)]


def by_topic(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Event ids per topic, in the order given."""
    streams: dict[str, list[str]] = {}
    for topic, event_id in rows:
        streams.setdefault(topic, []).append(event_id)
    return streams


def published(ingress: Ingress) -> list[tuple[str, str]]:
    """(topic, event id) of every event the broker ingress accepted, in arrival order."""
    return [
        (delivery.path.rsplit("/", 1)[1], delivery.event["id"]) for delivery in ingress.accepted()
    ]


class Ingress:
    """A broker ingress that answers each topic's requests with the statuses it is given for that
    topic, then 202. A hanging one holds every request (`entered` is set) until `release` is
    set."""

    def __init__(
        self,
        subscribers: Subscribers,
        statuses: dict[str, list[int]] | None = None,
        *,
        hang: bool = False,
    ) -> None:
        self._statuses = {topic: list(codes) for topic, codes in (statuses or {}).items()}
        self._lock = threading.Lock()
        self._accepted: list[Delivery] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hang:
            self.release.set()
        self.server = subscribers("broker", self._respond)
        # Longer than SQLite's busy timeout: a relay holding the write lock while it publishes
        # makes the concurrent write below fail instead of finishing after the publisher's timeout.
        self.publisher = HttpPublisher(f"{self.server.url}/taskflow", as_outbox_relay, timeout=60)

    def _respond(self, delivery: Delivery) -> Response:
        self.entered.set()
        self.release.wait()
        with self._lock:
            codes = self._statuses.get(delivery.path.rsplit("/", 1)[1], [])
            code = codes.pop(0) if codes else 202
            if code == 202:
                self._accepted.append(delivery)
        return Response(status=code)

    def accepted(self) -> list[Delivery]:
        with self._lock:
            return list(self._accepted)


def test_pending_events_are_published_in_commit_order_once(
    engine: Engine, subscribers: Subscribers
) -> None:
    for user, title in [("ann", "one"), ("bob", "two"), ("ann", "three")]:
        create_task(engine, user, title)
    waiting = pending(engine)
    assert [topic for topic, _ in waiting] == TOPICS_OF_A_TASK_EVENT * 3
    ingress = Ingress(subscribers)

    assert relay_pending(lambda: SqlAlchemyUnitOfWork(engine), ingress.publisher) == 6
    assert by_topic(published(ingress)) == by_topic(waiting)
    ann_titles = [
        d.event.data["task_data"]["title"]
        for d in ingress.accepted()
        if d.event["partitionkey"] == "ann" and d.path.endswith("task-events")
    ]
    assert ann_titles == ["one", "three"]
    assert all(d.headers["ce-specversion"] == "1.0" for d in ingress.accepted())  # binary mode

    assert relay_pending(lambda: SqlAlchemyUnitOfWork(engine), ingress.publisher) == 0
    assert len(ingress.accepted()) == 6
    assert pending(engine) == []


def test_a_relay_inside_a_request_publishes_one_batch_and_hands_over_the_rest(
    engine: Engine, subscribers: Subscribers
) -> None:
    for title in ["one", "two", "three"]:
        create_task(engine, "ann", title)
    waiting = pending(engine)
    ingress = Ingress(subscribers)
    handed_over: list[bool] = []

    uow_factory = functools.partial(SqlAlchemyUnitOfWork, engine)
    assert (
        relay_pending(
            uow_factory, ingress.publisher, limit=2, hand_over=lambda: handed_over.append(True)
        )
        == 2
    )
    assert handed_over == [True]
    assert len(pending(engine)) == 4

    assert relay_pending(uow_factory, ingress.publisher, limit=2) == 4
    assert by_topic(published(ingress)) == by_topic(waiting)
    assert relay_pending(uow_factory, ingress.publisher, limit=2, hand_over=handed_over.clear) == 0
    assert handed_over == [True]  # nothing pending: nothing handed over


def test_a_broker_outage_between_commit_and_publish_loses_nothing(
    engine: Engine, subscribers: Subscribers
) -> None:
    create_task(engine, "ann", "survives the outage")
    waiting = pending(engine)
    down = HttpPublisher(
        "http://127.0.0.1:9/taskflow", as_outbox_relay
    )  # nothing listens on the discard port

    with pytest.raises(PublishError, match="unreachable"):
        relay_pending(lambda: SqlAlchemyUnitOfWork(engine), down)
    assert pending(engine) == waiting

    ingress = Ingress(subscribers)
    assert relay_pending(lambda: SqlAlchemyUnitOfWork(engine), ingress.publisher) == 2
    assert by_topic(published(ingress)) == by_topic(waiting)
    assert pending(engine) == []


def test_a_refused_publish_stops_the_run_and_the_next_run_resumes_there(
    engine: Engine, subscribers: Subscribers
) -> None:
    for title in ["first", "second"]:
        create_task(engine, "ann", title)
    waiting = pending(engine)
    events, updates = catalogue.TOPIC_TASK_EVENTS, catalogue.TOPIC_TASK_UPDATES
    first, second = by_topic(waiting)[events]
    ingress = Ingress(subscribers, statuses={events: [503]})

    with pytest.raises(PublishError, match="503"):
        relay_pending(lambda: SqlAlchemyUnitOfWork(engine), ingress.publisher)
    # The refused row and the one after it on its topic stay pending, so nothing of ann's
    # overtakes the refused event there; the other topic's stream went on.
    assert by_topic(published(ingress)) == {updates: by_topic(waiting)[updates]}
    assert pending(engine) == [(events, first), (events, second)]

    assert relay_pending(lambda: SqlAlchemyUnitOfWork(engine), ingress.publisher) == 2
    assert by_topic(published(ingress)) == by_topic(waiting)


def test_two_relays_at_once_publish_every_event(engine: Engine, subscribers: Subscribers) -> None:
    for n in range(10):
        create_task(engine, f"user-{n % 3}", f"task {n}")
    waiting = pending(engine)
    ingress = Ingress(subscribers)
    errors: list[BaseException] = []

    def relay() -> None:
        try:
            relay_pending(lambda: SqlAlchemyUnitOfWork(engine), ingress.publisher, limit=4)
        except BaseException as error:  # surfaced below: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert set(published(ingress)) == set(waiting)
    assert pending(engine) == []


def test_a_hanging_broker_blocks_neither_writes_nor_other_relays(
    engine: Engine, subscribers: Subscribers
) -> None:
    create_task(engine, "ann", "published first")
    ingress = Ingress(subscribers, hang=True)
    relayed: list[int] = []
    relay = threading.Thread(
        target=lambda: relayed.append(
            relay_pending(lambda: SqlAlchemyUnitOfWork(engine), ingress.publisher)
        )
    )
    relay.start()
    try:
        assert ingress.entered.wait(timeout=10), "the relay never called the broker"
        # On SQLite a relay that kept its transaction open would hold the one write lock here.
        create_task(engine, "bob", "written while the broker hangs")
        assert relay.is_alive(), "the write should not have waited for the broker"
        # A second relay finds the first one running and leaves the rows to it.
        assert relay_pending(lambda: SqlAlchemyUnitOfWork(engine), ingress.publisher) == 0
        assert relay.is_alive()
        waiting = pending(engine)
    finally:
        ingress.release.set()
        relay.join()

    # The running relay also publishes the write that committed while it held the relay lock.
    assert relayed == [4]
    assert by_topic(published(ingress)) == by_topic(waiting)
    assert [
        d.event.data["task_data"]["title"]
        for d in ingress.accepted()
        if d.path.endswith(catalogue.TOPIC_TASK_EVENTS)
    ] == ["published first", "written while the broker hangs"]
    assert pending(engine) == []
