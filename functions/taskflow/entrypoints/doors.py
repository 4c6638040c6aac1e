"""A function's guarded routes: an event door accepts only broker deliveries, create-task's
`/commands` only the API's commands, a timer door (/relay, /sweep, Dapr's job callbacks) only the
platform's timers (adapters/sender_identity.py, specs/eventing.md, specs/deployment.md).

A refused request is answered 401 before its body is read, so nothing is parsed, written or
published; a Kafka broker does not retry a 401, it dead-letters it (visible, not lost).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import flask

from taskflow import bootstrap
from taskflow.adapters import sender_identity
from taskflow.entrypoints import cloudevents_http, observability

Handler = Callable[[flask.Request], flask.Response]


# Built on the first request, in the serving process (never at import: see bootstrap.py).
@functools.cache
def _delivery_door(service: str) -> sender_identity.Door:
    return sender_identity.delivery_door(bootstrap.settings(), service)


@functools.cache
def _timer_door(service: str) -> sender_identity.TimerDoor:
    return sender_identity.timer_door(bootstrap.settings(), service)


@functools.cache
def _command_door() -> sender_identity.Door:
    return sender_identity.command_door(bootstrap.settings())


@dataclass(frozen=True)
class Refusal:
    """Why a request may not enter a door, and the status that says so."""

    status: int
    reason: str

    def as_flask(self) -> flask.Response:
        if self.status == 401:
            return cloudevents_http.unauthorized(self.reason)
        return cloudevents_http.rejected(self.reason, status=self.status)


def refusal(
    door: sender_identity.Door | sender_identity.TimerDoor, headers: Mapping[str, str]
) -> Refusal | None:
    """None when `headers` carry a credential `door` accepts. May fetch a cluster's signing
    keys: an async server calls it in a worker thread."""
    try:
        door.check(headers)
    except sender_identity.Unauthorized as error:
        return Refusal(401, str(error))
    except sender_identity.IssuerUnavailable as error:
        return Refusal(503, str(error))
    return None


def broker_refusal(service: str, headers: Mapping[str, str]) -> Refusal | None:
    """`refusal` at the event door of `service` (its Knative Service name)."""
    return refusal(_delivery_door(service), headers)


def _guarded(
    door: Callable[[], sender_identity.Door | sender_identity.TimerDoor], handler: Handler
) -> Handler:
    @functools.wraps(handler)
    def guarded(request: flask.Request) -> flask.Response:
        refused = refusal(door(), request.headers)
        return refused.as_flask() if refused else handler(request)

    return guarded


def from_broker(service: str, handler: Handler) -> Handler:
    """`handler` runs only for a delivery signed for `service` (its Knative Service name)."""
    return _guarded(lambda: _delivery_door(service), handler)


def from_api(handler: Handler) -> Handler:
    """`handler` runs only for a command the API signed for create-task."""
    return _guarded(_command_door, handler)


def from_timer(service: str, handler: Handler) -> Handler:
    """`handler` runs only for a timer of the platform: a ping signed like a delivery for
    `service`, or a call from the Dapr sidecar carrying its app API token."""

    @functools.wraps(handler)
    def tick(request: flask.Request) -> flask.Response:
        observability.mark_timer_tick()
        return handler(request)

    return _guarded(lambda: _timer_door(service), tick)
