"""send-reminder: keeps each task's reminders scheduled, fires them on time exactly once, never
for a completed or deleted task, catches up after downtime, and hands due reminders to the user's
webhook.

Routes:
- POST /         a task event (task-events broker): (re)schedule that task's timers; 202.
- POST /sweep    fire every reminder due by now that has not fired (PingSource, and every
                 SWEEP_INTERVAL in-process); 202.
- POST /reminder-sweep  the same sweep, called by the Dapr cron binding `reminder-sweep`.
- POST /job/<name>      a Dapr job fell due (its data is the reminder's key): fire it; 200.
  The three timer routes above take only the platform's timers (doors.from_timer): a ping
  signed like a delivery (PingSource, the local timers), or the Dapr sidecar's app API token.
- POST /deliver  a reminder.due event (reminders broker): POST it to the user's webhook if set;
                 202, or 502 when the webhook fails so that the broker retries.

The database is the truth (task_reminders, reminder_deliveries); timers only cut the latency
between sweeps. Beside a Dapr sidecar (DAPR_HTTP_PORT) the timers are Dapr jobs, and sweeps come
only from outside (the cron binding locally, the PingSource in a cluster): the scheduler and the
cron binding outlive this process, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import flask
import functions_framework
from cloudevents.http import CloudEvent
from taskflow import bootstrap, catalogue
from taskflow.adapters import dapr_jobs, webhook
from taskflow.entrypoints import cloudevents_http, doors, function_routes, observability
from taskflow.service_layer import reminders

log = logging.getLogger(__name__)

SWEEP_INTERVAL = timedelta(minutes=1)


def sweep() -> None:
    reminders.sweep(
        bootstrap.reminder_unit_of_work,
        bootstrap.reminder_scheduler(),
        relay=bootstrap.relay_outbox,
        now=datetime.now(UTC),
    )


def keep_sweeping() -> None:
    """Sweep at start-up (catching up on reminders that fell due while down), then regularly;
    not beside a Dapr sidecar, whose cron binding sweeps instead."""
    if bootstrap.settings().dapr_http_port:
        return
    while True:
        try:
            sweep()
        except Exception:
            log.exception("reminder sweep failed; retrying at the next interval")
        time.sleep(SWEEP_INTERVAL.total_seconds())


sweeper = bootstrap.WorkerStartup("reminder-sweeper", keep_sweeping)


@functions_framework.http
@observability.observed("send-reminder")
def send_reminder(request: flask.Request) -> flask.Response:
    sweeper.ensure_started()
    if request.method == "POST" and request.path.startswith(dapr_jobs.JOB_CALLBACK_PREFIX):
        return guarded_job_due(request)
    return function_routes.dispatch(request, ROUTES)


@cloudevents_http.on_events(*catalogue.TASK_EVENT_TYPES)
def task_changed(event: CloudEvent) -> flask.Response:
    reminders.reschedule_task(
        bootstrap.reminder_unit_of_work,
        bootstrap.reminder_scheduler(),
        event.data["task_id"],
        now=datetime.now(UTC),
    )
    return cloudevents_http.accepted()


def sweep_now(request: flask.Request) -> flask.Response:
    sweep()
    return cloudevents_http.accepted()


def job_due(request: flask.Request) -> flask.Response:
    """A Dapr job's callback. Answered 200 whether or not this call fired (a completed task, an
    earlier sweep): only a failure asks the scheduler to call again."""
    try:
        key = dapr_jobs.key_from_job_data(request.get_json(silent=True))
    except dapr_jobs.BadJobData as error:
        return cloudevents_http.rejected(error.reason, status=400, field=error.field)
    bootstrap.fire_reminder(key)
    jobs = bootstrap.dapr_jobs_client()
    if jobs is not None:
        jobs.fired(key)
    return flask.Response(status=200)


guarded_job_due = doors.from_timer("send-reminder", job_due)


@cloudevents_http.on_events(catalogue.REMINDER_DUE)
def deliver(event: CloudEvent) -> flask.Response:
    try:
        reminders.deliver_to_webhook(
            bootstrap.reminder_unit_of_work, event, bootstrap.post_to_webhook
        )
    except webhook.WebhookRefused as error:
        # The address is checked again here, resolved: a name that pointed elsewhere when the
        # URL was saved (DNS rebinding) is refused too. A retry cannot help, so no 5xx.
        return cloudevents_http.rejected(str(error), status=422, field="webhook_url")
    except webhook.WebhookFailed as error:
        return cloudevents_http.rejected(str(error), status=502, field="webhook_url")
    return cloudevents_http.accepted()


ROUTES: function_routes.Routes = {
    ("POST", "/"): doors.from_broker("send-reminder", task_changed),
    ("POST", "/sweep"): doors.from_timer("send-reminder", sweep_now),
    ("POST", "/reminder-sweep"): doors.from_timer("send-reminder", sweep_now),
    ("POST", "/deliver"): doors.from_broker("send-reminder", deliver),
}
