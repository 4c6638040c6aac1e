"""The composition root: the one place that wires settings, the database (migrated on first
use), the units of work of each use case, the publisher, the outbox relay, the reminder
scheduler and the API's services, one of each per process, and a way to start background work
in the serving process. Entry points (functions/<name>/main.py, the Flask app) take what they
need from here; service_layer/ receives it as arguments and never builds an adapter itself.

Nothing is created at import: the functions-framework CLI imports the function module in
gunicorn's master process and only then forks the worker that serves requests, so a connection
pool or thread made at import would belong to the wrong process.

Nor is an adapter imported at import: each factory imports what it builds, so a function loads
only the adapters it uses (spawn-recurrence no database, write-audit no Dapr jobs or webhook
client). Every function imports this module through its doors; importing every adapter here
cost each of them up to 0.8 s of CPU and 40 MiB at cold start (specs/benchmarks.md, cold start
round 3). This stays the one place that wires them.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from taskflow import metrics
from taskflow.config import Settings, load_settings

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent
    from sqlalchemy.engine import Engine

    from taskflow.adapters import dapr_jobs
    from taskflow.adapters.publisher import HttpPublisher
    from taskflow.adapters.reminder_schedule import ReminderKey
    from taskflow.adapters.reminder_timers import ReminderTimers
    from taskflow.entrypoints.app_services import AppServices
    from taskflow.service_layer import audit, reminders
    from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")


def once_per_process(factory: Callable[[], T]) -> Callable[[], T]:
    """Lazily build a resource the first time it is asked for, exactly once even when the first
    requests arrive together on several gunicorn threads."""
    lock = threading.Lock()
    built: list[T] = []

    @functools.wraps(factory)
    def get() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(factory())
        return built[0]

    return get


@once_per_process
def settings() -> Settings:
    return load_settings()


@once_per_process
def engine() -> Engine:
    from taskflow.adapters import database

    # Every function migrates before its first query, so any one of them may start first on an
    # empty database (database.migrate is safe when several run at once).
    database.migrate(settings().database_url)
    return database.make_engine(settings().database_url)


def unit_of_work() -> SqlAlchemyUnitOfWork:
    from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

    return SqlAlchemyUnitOfWork(engine())


def audit_unit_of_work() -> audit.AuditUnitOfWork:
    from taskflow.service_layer import audit

    return audit.AuditUnitOfWork(engine())


def reminder_unit_of_work() -> reminders.ReminderUnitOfWork:
    from taskflow.service_layer import reminders

    return reminders.ReminderUnitOfWork(engine())


@once_per_process
def publisher() -> HttpPublisher:
    from taskflow.adapters import sender_identity
    from taskflow.adapters.publisher import HttpPublisher

    return HttpPublisher(settings().broker_url, sender_identity.publish_credential(settings()))


def relay_outbox() -> None:
    """Publish pending outbox rows now, one batch; more is left to this process's background
    relay, so no answer waits for other writes' rows. A failure leaves them pending for the
    periodic relay (PingSource `/relay`), so it is logged, never raised into the answer of a
    committed write."""
    counted_relay(hand_over=background_relay().wake)


def counted_relay(hand_over: Callable[[], None] | None = None) -> None:
    """One relay run, counted in the process's metrics (an operator sees a relay that keeps
    failing before the outbox grows); a failure is logged, never raised."""
    from taskflow.service_layer import outbox_relay

    try:
        published = outbox_relay.relay_pending(unit_of_work, publisher(), hand_over=hand_over)
    except Exception:
        metrics.OUTBOX_RELAYS.labels("failed").inc()
        log.exception("outbox relay failed; rows stay pending for the next relay")
        return
    metrics.OUTBOX_PUBLISHED.inc(published)
    metrics.OUTBOX_RELAYS.labels("ok").inc()


class BackgroundRelay:
    """One thread per process that relays until the outbox is empty whenever woken."""

    def __init__(self) -> None:
        self._woken = threading.Event()
        threading.Thread(target=self._relay_forever, name="outbox-relay", daemon=True).start()

    def wake(self) -> None:
        self._woken.set()

    def _relay_forever(self) -> None:
        while True:
            self._woken.wait()
            self._woken.clear()
            counted_relay()


@once_per_process
def background_relay() -> BackgroundRelay:
    # Made on first use, by a request in the serving process (never at import: see the top).
    return BackgroundRelay()


class WorkerStartup:
    """Runs `start` once, on a daemon thread, in the process that serves requests.

    Under gunicorn that process is forked after the module was imported, so the fork hook starts
    the work as soon as the worker exists, before any request. The Flask development server
    (`functions-framework --debug`) never forks: there `ensure_started`, called by each request,
    starts it on the first one.
    """

    def __init__(self, name: str, start: Callable[[], None]) -> None:
        self._name = name
        self._start = start
        self._lock = threading.Lock()
        self._started_in_pid: int | None = None
        os.register_at_fork(after_in_child=self.ensure_started)

    def ensure_started(self) -> None:
        with self._lock:
            if self._started_in_pid == os.getpid():
                return
            self._started_in_pid = os.getpid()
        threading.Thread(target=self._start, name=self._name, daemon=True).start()


def fire_reminder(key: ReminderKey) -> None:
    """A timer or a Dapr job woke send-reminder for `key`: fire it, then publish at once."""
    from taskflow.service_layer import reminders

    if reminders.fire(reminder_unit_of_work, key, now=datetime.now(UTC)):
        relay_outbox()


@once_per_process
def dapr_jobs_client() -> dapr_jobs.DaprJobReminders | None:
    if not settings().dapr_http_port:
        return None
    from taskflow.adapters import dapr_jobs, dapr_sidecar

    return dapr_jobs.DaprJobReminders(dapr_sidecar.sidecar_url(settings().dapr_http_port))


@once_per_process
def in_process_timers() -> ReminderTimers:
    from taskflow.adapters.reminder_timers import ReminderTimers

    return ReminderTimers(fire_reminder)


def reminder_scheduler() -> reminders.ReminderScheduler:
    """Dapr jobs beside a sidecar (they outlive this process), in-process timers otherwise."""
    return dapr_jobs_client() or in_process_timers()


def post_to_webhook(url: str, event: CloudEvent) -> None:
    from taskflow.adapters import webhook

    webhook.post_event(url, event, allow_local=settings().webhook_allow_local)


def api_services(app_settings: Settings) -> AppServices:
    """What the API's views need (entrypoints/app_services.py), built once by create_app."""
    from taskflow.adapters import database, rate_limit
    from taskflow.adapters.command_client import CommandClient
    from taskflow.entrypoints.app_services import AppServices

    return AppServices(
        settings=app_settings,
        engine=database.make_engine(app_settings.database_url),
        commands=CommandClient.from_settings(app_settings),
        now=lambda: datetime.now(UTC),
        rate_limiter=rate_limit.RateLimiter(
            {
                rate_limit.API: app_settings.api_rate_limit,
                rate_limit.CHAT: app_settings.chat_rate_limit,
                rate_limit.AUTH_EMAIL: app_settings.auth_email_rate_limit,
                rate_limit.AUTH_CLIENT: app_settings.auth_client_rate_limit,
            }
        ),
    )
