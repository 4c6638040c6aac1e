"""HTTP face of the router: Knative's broker ingress path, the local dead-letter sink, health,
Prometheus metrics (deliveries, retries, dead letters: taskflow.metrics).

The router stands in for the Knative broker, so it answers like a broker, not like a TaskFlow
function: its few answers are written here, and it does not import the product's entry points
(specs/architecture.md, "What the router may import"; tests/unit/test_layers.py).
"""

from __future__ import annotations

import json

import flask
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import CloudEvent, from_http
from taskflow import metrics
from taskflow.adapters import sender_identity
from taskflow.config import Settings

from taskflow_dev.router.broker import Router, UnknownBroker
from taskflow_dev.router.dead_letters import DeadLetterStore
from taskflow_dev.router.eventlog import EventLogUnavailable

# The broker's own limit, as large as the functions' (cloudevents_http.MAX_EVENT_BYTES): an
# event the router took but a function refuses would only end as a dead letter.
MAX_EVENT_BYTES = 256 * 1024


def accepted() -> flask.Response:
    """A stored event: 202 and no body, as the broker ingress answers."""
    response = flask.Response(status=202)
    del response.headers["Content-Type"]
    return response


def rejected(reason: str, *, status: int = 400, field: str | None = None) -> flask.Response:
    """`{"error": {"reason", "field"?}}`, the refusal shape of every TaskFlow door."""
    error = {"reason": reason} | ({"field": field} if field else {})
    return flask.Response(json.dumps({"error": error}), status=status, mimetype="application/json")


def unauthorized(reason: str) -> flask.Response:
    answer = rejected(reason, status=401, field="authorization")
    answer.headers["WWW-Authenticate"] = "Bearer"
    return answer


class NotACloudEvent(ValueError):
    pass


def read_event(request: flask.Request) -> CloudEvent:
    """A binary or structured CloudEvent with any data: a broker does not judge payloads."""
    body = request.get_data()
    if len(body) > MAX_EVENT_BYTES:
        raise NotACloudEvent(f"event larger than {MAX_EVENT_BYTES} bytes")
    try:
        return from_http(dict(request.headers), body)
    except (CloudEventError, ValueError) as error:
        raise NotACloudEvent(f"not a CloudEvent: {error}") from None


def create_app(router: Router, dead_letters: DeadLetterStore, settings: Settings) -> flask.Flask:
    """The ingress accepts only what the outbox relay signed for that broker, the dead-letter
    sink only this router's own deliveries (sender_identity; 401 otherwise, nothing stored)."""
    app = flask.Flask("taskflow_dev.router")
    # Its counters on its own metrics port (Ports.router_metrics under `just up`).
    metrics.serve_metrics()
    dead_letter_door = sender_identity.delivery_door(settings, "dead-letter")

    @app.post("/<namespace>/<broker>")
    def ingress(namespace: str, broker: str) -> flask.Response:
        # Any namespace is accepted: locally there is one set of brokers, named as in eventing/.
        try:
            sender_identity.ingress_door(settings, namespace, broker).check(flask.request.headers)
        except sender_identity.Unauthorized as error:
            return unauthorized(str(error))
        try:
            router.accept(broker, read_event(flask.request))
        except NotACloudEvent as error:
            return rejected(str(error))
        except UnknownBroker:
            return rejected(f"no broker named {broker!r}", status=404, field="broker")
        except EventLogUnavailable as error:
            # Not stored: the sender keeps the event (the outbox row stays pending) and retries.
            return rejected(str(error), status=503)
        return accepted()

    @app.post("/dead-letter")
    def dead_letter() -> flask.Response:
        try:
            dead_letter_door.check(flask.request.headers)
        except sender_identity.Unauthorized as error:
            return unauthorized(str(error))
        try:
            letter = read_event(flask.request)
        except NotACloudEvent as error:
            return rejected(str(error))
        dead_letters.add(letter)
        destination = str(letter.get("knativeerrordest", "unknown"))
        metrics.DEAD_LETTERS.labels(letter["type"], destination).inc()
        return accepted()

    @app.get("/dead-letters")
    def list_dead_letters() -> flask.Response:
        return flask.jsonify(dead_letters.all())

    @app.get("/healthz")
    def healthz() -> flask.Response:
        try:
            backlog = router.backlog()
        except EventLogUnavailable as error:
            return rejected(str(error), status=503)
        return flask.jsonify(status="ok", brokers=router.brokers, backlog=backlog)

    return app
