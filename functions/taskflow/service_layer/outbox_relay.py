"""The outbox relay: publish the CloudEvents that committed writes left in the outbox.

No database transaction is open while the broker is called: a batch of pending rows is read in one
short transaction, published, and the published rows are marked in a second short one. On SQLite
a transaction holds the database's only write lock, so a slow or unreachable broker would
otherwise stall every writer. The price: a process that dies between publishing and marking
publishes those rows again, which every consumer absorbs (idempotent by CloudEvent id).

Order matters within a topic (each is a broker whose Triggers see one user's events in order), not
across topics, so a batch is published as one stream per topic, the streams side by side: a task
event's two rows (task-events and task-updates) reach the broker together and share one commit of
its log, instead of waiting for one fsync each (specs/benchmarks.md, pipeline). The first failed
publish stops its topic's stream, so a later row of that topic, possibly of the same user, never
goes out ahead of it; the next run retries. One relay runs at a time per database (the lock
`outbox-relay`, adapters/locks.py): a relay that finds it taken returns at once, because the
holder publishes these rows too, so each topic's rows always leave in commit order and a slow
broker ties up one relay, not all.

A relay run inside a request (`hand_over` given) publishes one batch and hands whatever is still
pending to a relay that answers no one: under a steady stream of writes the outbox is never
empty, and a request that relayed until it was held its answer for everyone's rows (one
command took 15.6 s at 40 commands/s, specs/benchmarks.md).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from cloudevents.http import CloudEvent

from taskflow import catalogue
from taskflow.adapters.publisher import PublishError
from taskflow.adapters.repository import OutboxMessage
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)

BATCH_SIZE = 100
RELAY_LOCK = "outbox-relay"


class Publisher(Protocol):
    def publish(self, topic: str, event: CloudEvent) -> None: ...


def relay_pending(
    uow_factory: Callable[[], SqlAlchemyUnitOfWork],
    publisher: Publisher,
    *,
    limit: int = BATCH_SIZE,
    hand_over: Callable[[], None] | None = None,
) -> int:
    """Publish every pending row, `limit` per batch; return how many this call published (0 when
    another relay is running). With `hand_over`, publish one batch and call it when rows are
    still pending instead of publishing them too. Raise PublishError after marking what was
    published before the failure."""
    total = 0
    while True:
        with uow_factory().exclusively(RELAY_LOCK) as acquired:
            if not acquired:
                return total
            total += _relay_until_drained(
                uow_factory, publisher, limit, one_batch=hand_over is not None
            )
        # A write that committed while this relay held the lock found it taken and left its rows
        # to this relay: look once more after letting go, or they would wait for the next timer.
        if not _anything_pending(uow_factory):
            return total
        if hand_over is not None:
            hand_over()
            return total


def _relay_until_drained(
    uow_factory: Callable[[], SqlAlchemyUnitOfWork],
    publisher: Publisher,
    limit: int,
    *,
    one_batch: bool,
) -> int:
    total = 0
    while True:
        with uow_factory() as uow:
            batch = uow.outbox.pending(limit)
        published, failure = _publish_by_topic(publisher, batch)
        if published:
            with uow_factory() as uow:
                uow.outbox.mark_published(published)
                uow.commit()
        total += len(published)
        if failure is not None:
            log.warning("outbox relay stopped after %d rows: %s", total, failure)
            raise failure
        if one_batch or len(batch) < limit:
            return total


def _publish_by_topic(
    publisher: Publisher, batch: list[OutboxMessage]
) -> tuple[list[int], PublishError | None]:
    """Publish each topic's rows in order, the topics at once; return the ids published and the
    first failure, if any."""
    streams: dict[str, list[OutboxMessage]] = {}
    for message in batch:
        streams.setdefault(message.topic, []).append(message)
    if len(streams) <= 1:
        outcomes = [_publish_in_order(publisher, stream) for stream in streams.values()]
    else:
        outcomes = list(
            _stream_workers().map(
                lambda stream: _publish_in_order(publisher, stream), streams.values()
            )
        )
    published = sorted(id_ for ids, _ in outcomes for id_ in ids)
    return published, next((failure for _, failure in outcomes if failure is not None), None)


def _publish_in_order(
    publisher: Publisher, stream: Sequence[OutboxMessage]
) -> tuple[list[int], PublishError | None]:
    published: list[int] = []
    for message in stream:
        try:
            publisher.publish(message.topic, message.event)
        except PublishError as error:
            return published, error
        published.append(message.id)
    return published, None


@functools.cache
def _stream_workers() -> ThreadPoolExecutor:
    # Made on first use, in the process that relays; its threads start with its first stream.
    return ThreadPoolExecutor(len(catalogue.TOPICS), thread_name_prefix="outbox-relay")


def _anything_pending(uow_factory: Callable[[], SqlAlchemyUnitOfWork]) -> bool:
    with uow_factory() as uow:
        return bool(uow.outbox.pending(1))
