"""write-audit: appends one entry to the audit log for every task event (who, when, what changed
before and after), exactly once however often the broker delivers the event."""

from __future__ import annotations

import flask
import functions_framework
from taskflow import catalogue
from taskflow.entrypoints import (
    cloudevents_http,
    doors,
    function_routes,
    function_runtime,
    observability,
)
from taskflow.service_layer import audit_service


def unit_of_work() -> audit_service.AuditUnitOfWork:
    return audit_service.AuditUnitOfWork(function_runtime.session_factory())


@functions_framework.http
@observability.observed("write-audit")
def write_audit(request: flask.Request) -> flask.Response:
    return function_routes.dispatch(request, ROUTES)


def task_event(request: flask.Request) -> flask.Response:
    try:
        event = cloudevents_http.parse_catalogued(
            request, accepted_types=catalogue.TASK_EVENT_TYPES
        )
    except cloudevents_http.BadCloudEvent as error:
        return cloudevents_http.rejected_event(error)
    audit_service.record(event, unit_of_work)
    return cloudevents_http.accepted()


ROUTES: function_routes.Routes = {("POST", "/"): doors.from_broker("write-audit", task_event)}
