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
from taskflow import catalogue
from taskflow.adapters import dapr_jobs, dapr_sidecar, webhook
from taskflow.adapters.reminder_schedule import ReminderKey
from taskflow.entrypoints import (
    cloudevents_http,
    doors,
    function_routes,
    function_runtime,
    observability,
)
from taskflow.entrypoints.reminder_timers import ReminderTimers
from taskflow.service_layer import reminders_service
from taskflow.service_layer.reminder_scheduler import ReminderScheduler

log = logging.getLogger(__name__)

SWEEP_INTERVAL = timedelta(minutes=1)
# Timers are kept only for reminders this close; each sweep schedules the next ones.
TIMER_HORIZON = timedelta(hours=1)


def unit_of_work() -> reminders_service.ReminderUnitOfWork:
    return reminders_service.ReminderUnitOfWork(function_runtime.session_factory())


def fire(key: ReminderKey) -> None:
    if reminders_service.fire(unit_of_work, key, now=datetime.now(UTC)):
        function_runtime.relay_outbox()


@function_runtime.once_per_process
def dapr_jobs_client() -> dapr_jobs.DaprJobReminders | None:
    settings = function_runtime.settings()
    if not settings.dapr_http_port:
        return None
    return dapr_jobs.DaprJobReminders(dapr_sidecar.sidecar_url(settings.dapr_http_port))


in_process_timers = ReminderTimers(fire)


def scheduler() -> ReminderScheduler:
    return dapr_jobs_client() or in_process_timers


def sweep() -> None:
    """Fire what is due, publish (also what an earlier failed relay left pending), then set
    timers for what comes within the horizon."""
    now = datetime.now(UTC)
    reminders_service.fire_due(unit_of_work, now=now)
    function_runtime.relay_outbox()
    upcoming = reminders_service.pending(unit_of_work, due_by=now + TIMER_HORIZON)
    scheduler().schedule(reminder.key for reminder in upcoming)


def keep_sweeping() -> None:
    """Sweep at start-up (catching up on reminders that fell due while down), then regularly;
    not beside a Dapr sidecar, whose cron binding sweeps instead."""
    if function_runtime.settings().dapr_http_port:
        return
    while True:
        try:
            sweep()
        except Exception:
            log.exception("reminder sweep failed; retrying at the next interval")
        time.sleep(SWEEP_INTERVAL.total_seconds())


sweeper = function_runtime.WorkerStartup("reminder-sweeper", keep_sweeping)


@functions_framework.http
@observability.observed("send-reminder")
def send_reminder(request: flask.Request) -> flask.Response:
    sweeper.ensure_started()
    if request.method == "POST" and request.path.startswith(dapr_jobs.JOB_CALLBACK_PREFIX):
        return guarded_job_due(request)
    return function_routes.dispatch(request, ROUTES)


def task_changed(request: flask.Request) -> flask.Response:
    try:
        event = cloudevents_http.parse_catalogued(
            request, accepted_types=catalogue.TASK_EVENT_TYPES
        )
    except cloudevents_http.BadCloudEvent as error:
        return cloudevents_http.rejected_event(error)
    task_id = event.data["task_id"]
    # The database, not the event, says what is pending now: a later change may already have
    # moved or removed these reminders, and a completed or deleted task has none.
    upcoming = reminders_service.pending(
        unit_of_work, due_by=datetime.now(UTC) + TIMER_HORIZON, task_id=task_id
    )
    scheduler().replace_for_task(task_id, (reminder.key for reminder in upcoming))
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
    fire(key)
    jobs = dapr_jobs_client()
    if jobs is not None:
        jobs.fired(key)
    return flask.Response(status=200)


guarded_job_due = doors.from_timer("send-reminder", job_due)


def deliver(request: flask.Request) -> flask.Response:
    try:
        event = cloudevents_http.parse_catalogued(request, accepted_types=(catalogue.REMINDER_DUE,))
    except cloudevents_http.BadCloudEvent as error:
        return cloudevents_http.rejected_event(error)
    allow_local = function_runtime.settings().webhook_allow_local
    try:
        reminders_service.deliver_to_webhook(
            unit_of_work,
            event,
            lambda url, due: webhook.post_event(url, due, allow_local=allow_local),
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
