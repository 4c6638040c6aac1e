"""The outbox relay: publish the CloudEvents that committed writes left in the outbox.

Rows are published oldest first and marked published in the same transaction that read them; a
crash after publishing and before that commit only means those rows are published again, which
every consumer absorbs (idempotent by CloudEvent id). The first failed publish stops the run so
later rows, possibly of the same user, are never published ahead of it; the next run retries.
On PostgreSQL the rows read stay locked (FOR UPDATE SKIP LOCKED) so a concurrent relay skips them.
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


class Publisher(Protocol):
    def publish(self, topic: str, event: CloudEvent) -> None: ...


def relay_pending(
    uow_factory: Callable[[], SqlAlchemyUnitOfWork],
    publisher: Publisher,
    *,
    limit: int = BATCH_SIZE,
) -> int:
    """Publish every pending row, `limit` per transaction; return how many were published.
    Raise PublishError after recording what was published before the failure."""
    total = 0
    while True:
        published, failure = _relay_batch(uow_factory, publisher, limit)
        total += published
        if failure is not None:
            raise failure
        if published < limit:
            return total


def _relay_batch(
    uow_factory: Callable[[], SqlAlchemyUnitOfWork], publisher: Publisher, limit: int
) -> tuple[int, PublishError | None]:
    published: list[int] = []
    failure: PublishError | None = None
    with uow_factory() as uow:
        for message in uow.outbox.pending(limit):
            try:
                publisher.publish(message.topic, message.event)
            except PublishError as error:
                failure = error
                break
            published.append(message.id)
        uow.outbox.mark_published(published)
        uow.commit()
    if failure is not None:
        log.warning("outbox relay stopped after %d rows: %s", len(published), failure)
    return len(published), failure
