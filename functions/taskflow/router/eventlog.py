"""Where a broker's accepted events wait for its Triggers.

`EventLog` is the seam a Kafka backing slots into (one topic per broker, one consumer group per
Trigger, the `partitionkey` extension as record key). `InMemoryEventLog` is the default: each
subscription keeps one FIFO queue per partition key and drains each queue on one worker at a time,
so an ordered Trigger sees one user's events in order while different users proceed concurrently.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from cloudevents.http import CloudEvent

log = logging.getLogger(__name__)

Consumer = Callable[[CloudEvent], None]
PARTITION_KEY = "partitionkey"
WORKERS_PER_SUBSCRIPTION = 8


class EventLog(Protocol):
    def append(self, broker: str, event: CloudEvent) -> None:
        """Store an accepted event; it is handed to every subscription of `broker`."""

    def subscribe(self, broker: str, group: str, consumer: Consumer, *, ordered: bool) -> None:
        """Hand every event of `broker` to `consumer`. When `ordered`, events with the same
        partition key are consumed one after the other in append order."""

    def backlog(self) -> int:
        """Events appended and not yet consumed (0 when every delivery has finished)."""

    def close(self) -> None:
        """Stop handing out events; waits for the consumers that are running."""


class _Subscription:
    def __init__(self, group: str, consumer: Consumer, *, ordered: bool) -> None:
        self._group = group
        self._consumer = consumer
        self._ordered = ordered
        self._lock = threading.Lock()
        # A key is present while a worker drains it; new events for the key join its queue.
        self._queues: dict[str, deque[CloudEvent]] = {}
        self._backlog = 0
        self._workers = ThreadPoolExecutor(WORKERS_PER_SUBSCRIPTION, thread_name_prefix=group)

    def offer(self, event: CloudEvent) -> None:
        # An unordered Trigger gives each event its own queue, so nothing waits for anything.
        key = str(event.get(PARTITION_KEY, "")) if self._ordered else str(event["id"])
        with self._lock:
            self._backlog += 1
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(event)
                return
            self._queues[key] = deque([event])
        self._workers.submit(self._drain, key)

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                event = queue[0]
            try:
                self._consumer(event)
            except Exception:
                log.exception("subscription %s failed on event %s", self._group, event["id"])
            with self._lock:
                queue.popleft()
                self._backlog -= 1

    @property
    def backlog(self) -> int:
        with self._lock:
            return self._backlog

    def close(self) -> None:
        self._workers.shutdown(wait=True, cancel_futures=True)


class InMemoryEventLog:
    def __init__(self) -> None:
        self._subscriptions: dict[str, list[_Subscription]] = {}

    def append(self, broker: str, event: CloudEvent) -> None:
        for subscription in self._subscriptions.get(broker, ()):
            subscription.offer(event)

    def subscribe(self, broker: str, group: str, consumer: Consumer, *, ordered: bool) -> None:
        self._subscriptions.setdefault(broker, []).append(
            _Subscription(group, consumer, ordered=ordered)
        )

    def backlog(self) -> int:
        return sum(
            subscription.backlog
            for subscriptions in self._subscriptions.values()
            for subscription in subscriptions
        )

    def close(self) -> None:
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.close()
