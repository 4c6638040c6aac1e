"""write-audit: appends one entry to the audit log for every task event (who, when, what changed
before and after), exactly once however often the broker delivers the event
(service_layer/audit.py). The simplest function: copy it to add one (CLAUDE.md)."""

from __future__ import annotations

import flask
import functions_framework
from cloudevents.http import CloudEvent
from taskflow import bootstrap, catalogue
from taskflow.entrypoints import cloudevents_http, doors, function_routes, observability
from taskflow.service_layer import audit


@functions_framework.http
@observability.observed("write-audit")
def write_audit(request: flask.Request) -> flask.Response:
    return function_routes.dispatch(request, ROUTES)


@cloudevents_http.on_events(*catalogue.TASK_EVENT_TYPES)
def task_event(event: CloudEvent) -> flask.Response:
    audit.record(event, bootstrap.audit_unit_of_work)
    return cloudevents_http.accepted()


ROUTES: function_routes.Routes = {("POST", "/"): doors.from_broker("write-audit", task_event)}
