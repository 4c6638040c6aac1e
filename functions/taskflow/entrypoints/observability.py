"""Metrics, JSON logs and trace ids for every TaskFlow service.

The metric names are the contract that monitoring/ (alerts, dashboard) relies on; see
specs/deployment.md. A functions-framework target is wrapped with `observed(service)`, the Flask
API with `observe_app(app, service)`. Both answer `GET /metrics`, count every answer, time
CloudEvent handling by type and outcome, and log as JSON lines that carry the CloudEvent id and
the W3C trace id, so one event can be followed across functions and Dapr's spans.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime

import flask
import prometheus_client

HTTP_REQUESTS = prometheus_client.Counter(
    "taskflow_http_requests",
    "HTTP requests answered, by service, method, route and status",
    ["service", "method", "route", "status"],
)
EVENT_HANDLING = prometheus_client.Histogram(
    "taskflow_event_handling_seconds",
    "Time to handle one CloudEvent, by service, event type and outcome (ok, rejected, failed)",
    ["service", "type", "outcome"],
)
EVENT_FAILURES = prometheus_client.Counter(
    "taskflow_event_failures",
    "CloudEvents whose handling failed with a server error (the broker retries them)",
    ["service", "type"],
)
REMINDER_LATENESS = prometheus_client.Histogram(
    "taskflow_reminder_lateness_seconds",
    "Delay between a reminder's time and its delivery",
    buckets=(1, 5, 15, 30, 60, 120, 180, 300, 600, 1800, 3600),
)

# W3C trace context: version-traceid-parentid-flags. Dapr sets it on invocations; the Kafka
# broker carries it as the CloudEvent extension `traceparent` (header ce-traceparent).
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_request_fields: ContextVar[dict[str, str] | None] = ContextVar("taskflow_request", default=None)

Handler = Callable[[flask.Request], flask.Response]


def trace_id(headers: Mapping[str, str]) -> str:
    for name in ("traceparent", "ce-traceparent"):
        match = _TRACEPARENT.match(headers.get(name, "").strip().lower())
        if match:
            return match.group(1)
    return ""


def request_fields(headers: Mapping[str, str]) -> dict[str, str]:
    """What every log line of this request carries."""
    fields = {"cloudevent_id": headers.get("ce-id", ""), "trace_id": trace_id(headers)}
    return {name: value for name, value in fields.items() if value}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            **(_request_fields.get() or {}),
        }
        # log.info("...", extra={"fields": {...}}) adds structured fields to the line.
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging(service: str, level: int = logging.INFO) -> None:
    """Every log line of the process as one JSON object on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)


def metrics_response() -> flask.Response:
    return flask.Response(
        prometheus_client.generate_latest(), mimetype=prometheus_client.CONTENT_TYPE_LATEST
    )


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    return "rejected" if status < 500 else "failed"


def record(
    service: str, method: str, route: str, headers: Mapping[str, str], status: int, seconds: float
) -> None:
    HTTP_REQUESTS.labels(service, method, route, str(status)).inc()
    event_type = headers.get("ce-type")
    if event_type:
        EVENT_HANDLING.labels(service, event_type, _outcome(status)).observe(seconds)
        if status >= 500:
            EVENT_FAILURES.labels(service, event_type).inc()


def observed(service: str) -> Callable[[Handler], Handler]:
    """Wrap a functions-framework HTTP target (place it under @functions_framework.http)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def target(request: flask.Request) -> flask.Response:
            if request.method == "GET" and request.path == "/metrics":
                return metrics_response()
            token = _request_fields.set(request_fields(request.headers))
            started = time.perf_counter()
            status = 500  # what the framework answers when the handler raises
            try:
                response = handler(request)
                status = response.status_code
                return response
            finally:
                # Unknown paths share one label, so scanners cannot grow the series count.
                route = "unmatched" if status == 404 else request.path
                elapsed = time.perf_counter() - started
                record(service, request.method, route, request.headers, status, elapsed)
                _request_fields.reset(token)

        return target

    return decorate


def observe_app(app: flask.Flask, service: str) -> None:
    """The same for a Flask app; routes are labelled by their rule (`/api/<user_id>/tasks`),
    never by the raw path, so user ids never become label values."""

    @app.before_request
    def start() -> None:
        flask.g.observability_started = time.perf_counter()
        flask.g.observability_token = _request_fields.set(request_fields(flask.request.headers))

    @app.after_request
    def finish(response: flask.Response) -> flask.Response:
        request = flask.request
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        elapsed = time.perf_counter() - flask.g.get("observability_started", time.perf_counter())
        record(service, request.method, rule, request.headers, response.status_code, elapsed)
        return response

    @app.teardown_request
    def forget(_: BaseException | None) -> None:
        token = flask.g.pop("observability_token", None)
        if token is not None:
            _request_fields.reset(token)

    app.add_url_rule("/metrics", "metrics", metrics_response, methods=["GET"])
