"""dead-letter: the dead-letter sink of every Broker and Trigger in a cluster.

The Kafka broker sends here an event whose delivery failed after all retries, with the extensions
knativeerrordest, knativeerrorcode and knativeerrordata. Each one is logged as one JSON line (so
the log pipeline keeps it, searchable by CloudEvent id) and counted in
taskflow_dead_letters_total, which the alert on dead-letter growth watches.
"""

from __future__ import annotations

import logging

import flask
import functions_framework
from taskflow import metrics
from taskflow.entrypoints import cloudevents_http, doors, function_routes, observability

SERVICE = "dead-letter"
observability.configure_logging(SERVICE)
log = logging.getLogger("taskflow.dead_letter")


@functions_framework.http
@observability.observed(SERVICE)
def dead_letter(request: flask.Request) -> flask.Response:
    return function_routes.dispatch(request, ROUTES)


def record_dead_letter(request: flask.Request) -> flask.Response:
    try:
        event = cloudevents_http.parse(request)
    except cloudevents_http.BadCloudEvent as error:
        return cloudevents_http.rejected_event(error)
    attributes = event.get_attributes()
    destination = str(attributes.get("knativeerrordest", "unknown"))
    metrics.DEAD_LETTERS.labels(type=event["type"], destination=destination).inc()
    log.error(
        "dead letter",
        extra={
            "fields": {
                "cloudevent_id": event["id"],
                "type": event["type"],
                "source": event["source"],
                "destination": destination,
                "error_code": str(attributes.get("knativeerrorcode", "")),
                "error_data": str(attributes.get("knativeerrordata", "")),
                "data": event.data,
            }
        },
    )
    return cloudevents_http.accepted()


ROUTES: function_routes.Routes = {("POST", "/"): doors.from_broker(SERVICE, record_dead_letter)}
