"""Live sync rules, independent of Socket.IO: who may hear an event, under which name, and how a
redelivered event is recognised."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from cloudevents.http import CloudEvent

from taskflow import catalogue

_TYPE_PREFIX = "com.taskflow."

BROADCAST_TYPES = (*catalogue.TASK_EVENT_TYPES, catalogue.REMINDER_DUE)


def user_room(user_id: str) -> str:
    """The only room a connection joins: events of one user never reach another's clients."""
    return f"user:{user_id}"


def client_event_name(cloudevent_type: str) -> str:
    """ "com.taskflow.task.created" -> "task.created": the names web clients listen for."""
    return cloudevent_type.removeprefix(_TYPE_PREFIX)


def client_payload(event: CloudEvent) -> dict[str, Any]:
    """The event's data plus its id, so clients can drop a copy they already have."""
    return {**event.data, "event_id": event["id"]}


class RecentEventIds:
    """A bounded memory of delivered event ids, so a broker redelivery is not pushed twice.

    Best effort: it forgets after `capacity` newer events and on restart; clients dedupe by
    `event_id` as well.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_sighting(self, event_id: str) -> bool:
        """Remember `event_id`; True unless it was already remembered."""
        with self._lock:
            if event_id in self._ids:
                self._ids.move_to_end(event_id)
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True
