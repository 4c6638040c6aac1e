"""spawn-recurrence: turns the completion of a recurring task into the command that creates its
next occurrence (service_layer/spawn.py), as a reply that re-enters the broker.

Stateless on purpose. The reply's id is derived from the completed event's id, so a redelivered
completion produces the very same command; create-task's idempotency by command id and the unique
(series_id, occurrence) of tasks make the next occurrence appear exactly once.
"""

from __future__ import annotations

import flask
import functions_framework
from cloudevents.http import CloudEvent
from taskflow import catalogue
from taskflow.entrypoints import cloudevents_http, doors, function_routes, observability
from taskflow.service_layer import spawn


@functions_framework.http
@observability.observed("spawn-recurrence")
def spawn_recurrence(request: flask.Request) -> flask.Response:
    return function_routes.dispatch(request, ROUTES)


@cloudevents_http.on_events(catalogue.TASK_COMPLETED)
def task_completed(completed: CloudEvent) -> flask.Response:
    command = spawn.next_occurrence_command(completed)
    if command is None:
        return cloudevents_http.accepted()
    return cloudevents_http.reply(command)


ROUTES: function_routes.Routes = {
    ("POST", "/"): doors.from_broker("spawn-recurrence", task_completed)
}
