"""Helpers for the router tests: subscriber servers that record what they receive and answer as
told, manifest snippets, sending and waiting. The fixtures built on them are in conftest.py; this
module has a name of its own so that an import never picks up another folder's conftest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent, from_http
from sender_keys import headers_for
from taskflow_dev.router.server import RouterServer
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

Respond = Callable[["Delivery"], Response]


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    event: CloudEvent


def acknowledge(_delivery: Delivery) -> Response:
    return Response(status=202)


@dataclass
class Subscriber:
    name: str
    respond: Respond
    server: BaseWSGIServer | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def received(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def ids(self) -> list[str]:
        return [delivery.event["id"] for delivery in self.received()]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        delivery = Delivery(
            request.path,
            {name.lower(): value for name, value in request.headers.items()},
            from_http(dict(request.headers), request.get_data()),
        )
        with self.lock:
            self.deliveries.append(delivery)
        return self.respond(delivery)(environ, start_response)


class Subscribers:
    def __init__(self) -> None:
        self.started: dict[str, Subscriber] = {}
        self._threads: list[threading.Thread] = []

    def __call__(self, name: str, respond: Respond = acknowledge) -> Subscriber:
        subscriber = Subscriber(name, respond)
        subscriber.server = make_server("127.0.0.1", 0, subscriber, threaded=True)
        thread = threading.Thread(target=subscriber.server.serve_forever, args=(0.1,), daemon=True)
        thread.start()
        self._threads.append(thread)
        self.started[name] = subscriber
        return subscriber

    def close(self) -> None:
        for subscriber in self.started.values():
            assert subscriber.server is not None
            subscriber.server.shutdown()
            subscriber.server.server_close()
        for thread in self._threads:
            thread.join()


RouterStarter = Callable[[str], RouterServer]


def event(
    type_: str, *, user: str = "user-1", id_: str | None = None, data: dict | None = None
) -> CloudEvent:
    attributes = {
        "type": type_,
        "source": "tests/router",
        "partitionkey": user,
        "datacontenttype": "application/json",
    }
    if id_ is not None:
        attributes["id"] = id_
    return CloudEvent(attributes, data if data is not None else {"n": 1})


def send(
    router_url: str, broker: str, cloud_event: CloudEvent, *, mode: str = "binary"
) -> requests.Response:
    headers, body = (to_binary if mode == "binary" else to_structured)(cloud_event)
    url = f"{router_url}/taskflow/{broker}"
    return requests.post(url, data=body, headers=headers | headers_for(url), timeout=5)


def dead_letters(router_url: str) -> list[dict]:
    return requests.get(f"{router_url}/dead-letters", timeout=5).json()


def backlog(router_url: str) -> int:
    return requests.get(f"{router_url}/healthz", timeout=5).json()["backlog"]


def broker_yaml(
    name: str, *, retry: int = 0, policy: str = "exponential", delay: str = "PT0.001S"
) -> str:
    return f"""
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: {name}
spec:
  delivery:
    retry: {retry}
    backoffPolicy: {policy}
    backoffDelay: {delay}
    deadLetterSink:
      ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter}}
---
"""


def trigger_yaml(
    name: str, broker: str, service: str, filters: str, *, uri: str = "", ordered: bool = True
) -> str:
    order = "ordered" if ordered else "unordered"
    uri_line = f"\n    uri: {uri}" if uri else ""
    return f"""
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: {name}
  annotations:
    kafka.eventing.knative.dev/delivery.order: {order}
spec:
  broker: {broker}
  filters: {filters}
  subscriber:
    ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: {service}}}{uri_line}
---
"""
