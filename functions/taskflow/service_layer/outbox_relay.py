"""The outbox relay: publish the CloudEvents that committed writes left in the outbox.

No database transaction is open while the broker is called: a batch of pending rows is read in one
short transaction, published, and the published rows are marked in a second short one. On SQLite
a transaction holds the database's only write lock, so a slow or unreachable broker would
otherwise stall every writer. The price: a process that dies between publishing and marking
publishes those rows again, which every consumer absorbs (idempotent by CloudEvent id).

The first failed publish stops the run, so a later row, possibly of the same user, never goes out
ahead of it; the next run retries. One relay runs at a time per database (the lock `outbox-relay`,
adapters/locks.py): a relay that finds it taken returns at once, because the holder publishes
these rows too, so rows always leave in commit order and a slow broker ties up one relay, not all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from cloudevents.http import CloudEvent

from taskflow.adapters.publisher import PublishError
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
) -> int:
    """Publish every pending row, `limit` per batch; return how many this call published (0 when
    another relay is running). Raise PublishError after marking what was published before the
    failure."""
    total = 0
    while True:
        with uow_factory().exclusively(RELAY_LOCK) as acquired:
            if not acquired:
                return total
            total += _relay_until_drained(uow_factory, publisher, limit)
        # A write that committed while this relay held the lock found it taken and left its rows
        # to this relay: look once more after letting go, or they would wait for the next timer.
        if not _anything_pending(uow_factory):
            return total


def _relay_until_drained(
    uow_factory: Callable[[], SqlAlchemyUnitOfWork], publisher: Publisher, limit: int
) -> int:
    total = 0
    while True:
        with uow_factory() as uow:
            batch = uow.outbox.pending(limit)
        published: list[int] = []
        failure: PublishError | None = None
        for message in batch:
            try:
                publisher.publish(message.topic, message.event)
            except PublishError as error:
                failure = error
                break
            published.append(message.id)
        if published:
            with uow_factory() as uow:
                uow.outbox.mark_published(published)
                uow.commit()
        total += len(published)
        if failure is not None:
            log.warning("outbox relay stopped after %d rows: %s", total, failure)
            raise failure
        if len(batch) < limit:
            return total


def _anything_pending(uow_factory: Callable[[], SqlAlchemyUnitOfWork]) -> bool:
    with uow_factory() as uow:
        return bool(uow.outbox.pending(1))
