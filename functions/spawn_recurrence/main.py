"""spawn-recurrence: turns the completion of a recurring task into the command that creates its
next occurrence.

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

SOURCE = catalogue.source("spawn-recurrence")


@functions_framework.http
@observability.observed("spawn-recurrence")
def spawn_recurrence(request: flask.Request) -> flask.Response:
    return function_routes.dispatch(request, ROUTES)


def task_completed(request: flask.Request) -> flask.Response:
    try:
        completed = cloudevents_http.parse_catalogued(
            request, accepted_types=(catalogue.TASK_COMPLETED,)
        )
    except cloudevents_http.BadCloudEvent as error:
        return cloudevents_http.rejected_event(error)
    command = next_occurrence_command(completed)
    if command is None:
        return cloudevents_http.accepted()
    return cloudevents_http.reply(command)


ROUTES: function_routes.Routes = {
    ("POST", "/"): doors.from_broker("spawn-recurrence", task_completed)
}


def next_occurrence_command(completed: CloudEvent) -> CloudEvent | None:
    task_data = completed.data["task_data"]
    if not task_data.get("recurrence"):
        return None
    user_id = completed.data["user_id"]
    return catalogue.new_event(
        catalogue.SPAWN_OCCURRENCE,
        {
            "user_id": user_id,
            "task_id": completed.data["task_id"],
            "completed_at": task_data.get("completed_at") or completed.data["timestamp"],
            # The occurrence as it was completed: create-task builds the next one from it, not
            # from the row, which the user may delete or edit before this command arrives.
            "task_data": task_data,
        },
        user_id=user_id,
        source=SOURCE,
        event_id=f"spawn-{completed['id']}",
    )
