"""Where a broker's accepted events wait for its Triggers.

`EventLog` is the seam a Kafka backing slots into (one topic per broker, one consumer group per
Trigger, the `partitionkey` extension as record key). `SqliteEventLog` is the local one: an event
is committed to a SQLite file before the ingress answers 202, with one pending delivery per
subscription, and a delivery is deleted only once its consumer has finished. After a restart the
pending deliveries are handed out again, oldest first: at least once, which idempotent consumers
absorb. Each subscription keeps one FIFO queue per partition key and drains each queue on one
worker at a time, so an ordered Trigger sees one user's events in order, across restarts too,
while different users proceed concurrently.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cloudevents.conversion import to_json
from cloudevents.http import CloudEvent, from_json

log = logging.getLogger(__name__)

Consumer = Callable[[CloudEvent], None]
PARTITION_KEY = "partitionkey"
WORKERS_PER_SUBSCRIPTION = 8
# How long acknowledgements alone may wait to share one commit (a lost one is only a redelivery).
ACKNOWLEDGEMENT_BATCH_SECONDS = 0.02

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    broker TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_deliveries (
    subscription TEXT NOT NULL,
    position INTEGER NOT NULL REFERENCES events (position),
    PRIMARY KEY (subscription, position)
);
CREATE INDEX IF NOT EXISTS pending_deliveries_by_position ON pending_deliveries (position);
"""


class DeliveryInterrupted(Exception):
    """A consumer stopped before it finished (the router is stopping): the delivery stays pending
    and is handed out again after a restart."""


class EventLogUnavailable(Exception):
    """The log cannot store or report events right now (its Kafka cluster is away): the ingress
    answers 503, and the sender retries later."""


class EventLog(Protocol):
    def append(self, broker: str, event: CloudEvent) -> None:
        """Store an accepted event; once this returns it survives a restart and is handed to
        every subscription of `broker`."""

    def subscribe(self, broker: str, group: str, consumer: Consumer, *, ordered: bool) -> None:
        """Hand every event of `broker` that `group` has not consumed to `consumer`, once
        started. When `ordered`, events with the same partition key are consumed one after the
        other in append order."""

    def start(self) -> None:
        """Begin handing out events, those left from before a restart first. Called once, after
        every subscribe: a reply to a left-over event must reach every subscription."""

    def backlog(self) -> int:
        """Events appended and not yet consumed (0 when every delivery has finished)."""

    def close(self) -> None:
        """Stop handing out events; waits for the consumers that are running."""


@dataclass(frozen=True)
class _Entry:
    position: int
    event: CloudEvent


class _Subscription:
    def __init__(
        self,
        group: str,
        consumer: Consumer,
        acknowledge: Callable[[str, int], None],
        *,
        ordered: bool,
    ) -> None:
        self.group = group
        self._consumer = consumer
        self._acknowledge = acknowledge
        self._ordered = ordered
        self._lock = threading.Lock()
        # A key is present while a worker drains it; new events for the key join its queue.
        self._queues: dict[str, deque[_Entry]] = {}
        self._backlog = 0
        self._closing = False
        self._workers = ThreadPoolExecutor(WORKERS_PER_SUBSCRIPTION, thread_name_prefix=group)

    def offer(self, entry: _Entry) -> None:
        # An unordered Trigger gives each event its own queue, so nothing waits for anything.
        event = entry.event
        key = str(event.get(PARTITION_KEY, "")) if self._ordered else str(event["id"])
        with self._lock:
            if self._closing:
                return  # stored: handed out after the restart
            self._backlog += 1
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(entry)
                return
            self._queues[key] = deque([entry])
        self._workers.submit(self._drain, key)

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue or self._closing:
                    del self._queues[key]
                    return
                entry = queue[0]
            self._consume(entry)
            with self._lock:
                queue.popleft()
                self._backlog -= 1

    def _consume(self, entry: _Entry) -> None:
        try:
            self._consumer(entry.event)
        except DeliveryInterrupted:
            return
        except Exception:
            log.exception(
                "subscription %s failed on event %s; it stays pending until the router restarts",
                self.group,
                entry.event["id"],
            )
            return
        self._acknowledge(self.group, entry.position)

    @property
    def backlog(self) -> int:
        with self._lock:
            return self._backlog

    def close(self) -> None:
        with self._lock:
            self._closing = True
        self._workers.shutdown(wait=True, cancel_futures=True)


@dataclass
class _PendingAppend:
    broker: str
    event: CloudEvent
    stored: str
    subscriptions: list[_Subscription]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SqliteEventLog:
    """The event log in one SQLite file, in WAL mode. One router per file: a second would hand
    out the same events.

    One writer thread owns every write and commits in groups: the appends and acknowledgements
    that arrived while the previous commit ran go into the next transaction together, so the
    ingress threads share one fsync instead of queueing for one each. A transaction holding an
    append commits with `synchronous=FULL` (it survives a crash of the machine) before `append`
    returns and the ingress answers 202. A transaction of acknowledgements alone commits with
    `synchronous=NORMAL`: no fsync, yet it survives a crash of the router (WAL); only a crash of
    the machine may undo it, which hands the delivery out again, as at-least-once allows (every
    consumer absorbs a redelivery by CloudEvent id). The next FULL commit syncs it anyway."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._synchronous = ""
        # Held by the writer's transactions and by start(): left-over events are handed out
        # before any event appended after them.
        self._db_lock = threading.Lock()
        self._queued = threading.Condition()
        self._appends: list[_PendingAppend] = []
        self._acknowledgements: list[tuple[str, int]] = []
        self._closing = False
        self._subscriptions: dict[str, list[_Subscription]] = {}
        self._writer = threading.Thread(target=self._write_forever, name="event-log", daemon=True)
        self._writer.start()

    def append(self, broker: str, event: CloudEvent) -> None:
        subscriptions = self._subscriptions.get(broker, [])
        if not subscriptions:
            return  # no Trigger on this broker: no one would ever read it
        pending = _PendingAppend(broker, event, to_json(event).decode(), subscriptions)
        with self._queued:
            if self._closing:
                raise EventLogUnavailable("the router is stopping")
            self._appends.append(pending)
            self._queued.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def subscribe(self, broker: str, group: str, consumer: Consumer, *, ordered: bool) -> None:
        subscription = _Subscription(group, consumer, self._acknowledge, ordered=ordered)
        self._subscriptions.setdefault(broker, []).append(subscription)

    def start(self) -> None:
        with self._db_lock:
            for subscription in self._all_subscriptions():
                self._hand_out_left_over(subscription)

    def _hand_out_left_over(self, subscription: _Subscription) -> None:
        left_over = self._db.execute(
            "SELECT events.position, events.event FROM pending_deliveries"
            " JOIN events USING (position)"
            " WHERE pending_deliveries.subscription = ? ORDER BY events.position",
            (subscription.group,),
        ).fetchall()
        for position, stored in left_over:
            subscription.offer(_Entry(position, from_json(stored)))
        if left_over:
            log.info(
                "subscription %s: %d events pending from before the restart",
                subscription.group,
                len(left_over),
            )

    def backlog(self) -> int:
        return sum(subscription.backlog for subscription in self._all_subscriptions())

    def close(self) -> None:
        for subscription in self._all_subscriptions():
            subscription.close()
        with self._queued:
            self._closing = True
            self._queued.notify()
        self._writer.join()
        self._db.close()

    def _all_subscriptions(self) -> list[_Subscription]:
        return [s for group in self._subscriptions.values() for s in group]

    def _acknowledge(self, group: str, position: int) -> None:
        with self._queued:
            self._acknowledgements.append((group, position))
            self._queued.notify()

    def _write_forever(self) -> None:
        while True:
            with self._queued:
                while not (self._appends or self._acknowledgements or self._closing):
                    self._queued.wait()
                if not self._appends and not self._closing:
                    # Acknowledgements may wait a moment for company; an append never waits.
                    self._queued.wait(ACKNOWLEDGEMENT_BATCH_SECONDS)
                appends, self._appends = self._appends, []
                acknowledgements, self._acknowledgements = self._acknowledgements, []
                closing = self._closing
            if appends or acknowledgements:
                self._commit(appends, acknowledgements)
            if closing:
                return

    def _commit(
        self, appends: list[_PendingAppend], acknowledgements: list[tuple[str, int]]
    ) -> None:
        try:
            with self._db_lock:
                self._set_synchronous("FULL" if appends else "NORMAL")
                with self._transaction():
                    positions = [self._insert(pending) for pending in appends]
                    self._delete_finished(acknowledgements)
                # In position order, before the next group: each key's queue keeps append order.
                for pending, position in zip(appends, positions, strict=True):
                    for subscription in pending.subscriptions:
                        subscription.offer(_Entry(position, pending.event))
        except Exception as error:
            # The writer must outlive any failure, or every later append would wait forever.
            log.exception(
                "event log commit failed: %d events refused, %d acknowledgements dropped",
                len(appends),
                len(acknowledgements),
            )
            for pending in appends:
                pending.error = EventLogUnavailable(f"event log: {error}")
        finally:
            for pending in appends:
                pending.done.set()

    def _insert(self, pending: _PendingAppend) -> int:
        position = self._db.execute(
            "INSERT INTO events (broker, event) VALUES (?, ?)", (pending.broker, pending.stored)
        ).lastrowid
        assert position is not None
        self._db.executemany(
            "INSERT INTO pending_deliveries (subscription, position) VALUES (?, ?)",
            [(subscription.group, position) for subscription in pending.subscriptions],
        )
        return position

    def _delete_finished(self, acknowledgements: list[tuple[str, int]]) -> None:
        self._db.executemany(
            "DELETE FROM pending_deliveries WHERE subscription = ? AND position = ?",
            acknowledgements,
        )
        self._db.executemany(
            "DELETE FROM events WHERE position = ? AND NOT EXISTS"
            " (SELECT 1 FROM pending_deliveries WHERE position = ?)",
            [(position, position) for position in {position for _, position in acknowledgements}],
        )

    def _set_synchronous(self, level: str) -> None:
        if level != self._synchronous:
            self._db.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
