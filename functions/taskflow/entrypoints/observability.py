"""Metrics, JSON logs and traces for every TaskFlow service (specs/observability.md).

A functions-framework target is wrapped with `observed(service)`, a Flask app with
`observe_app(app, service)`. Neither answers `/metrics` on the port that serves users and
deliveries (issue 12, item 6): the process serves its registry on a metrics-only port
(`serve_metrics`, config.metrics_address), started in the process that serves requests. Both
count every answer, time CloudEvent handling by type and outcome
(taskflow.metrics), run each request in a server span that continues the trace the request
carries (taskflow.tracing), and log JSON lines that carry the CloudEvent id and type and the trace
id, so one write can be followed across functions and Dapr's spans.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, ExitStack, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import flask
import gunicorn.config
import gunicorn.glogging
from opentelemetry import trace

from taskflow import metrics, tracing

# Re-exported: the functions, the API and the local runner call observability.serve_metrics.
from taskflow.metrics import serve_metrics

if TYPE_CHECKING:
    # Only broadcast-update's ASGI target (observed_async) takes Starlette requests; the Flask
    # functions never load Starlette and anyio (specs/benchmarks.md, cold start).
    import starlette.requests
    import starlette.responses

log = logging.getLogger(__name__)

_request_fields: ContextVar[dict[str, str] | None] = ContextVar("taskflow_request", default=None)
# Set by a timer's door for the request it lets in (entrypoints/doors.from_timer).
_timer_tick: ContextVar[bool] = ContextVar("taskflow_timer_tick", default=False)


def mark_timer_tick() -> None:
    """This request is a platform timer's tick (relay, sweep, a Dapr job): answered well, its
    line is logged at DEBUG. Ticks come every few seconds from `just up`'s timers and every
    minute from a PingSource; what a tick did shows in the lines of the deliveries it caused,
    its count in the metrics, and a failing tick still logs at INFO."""
    _timer_tick.set(True)


UNTRACED_PATHS = frozenset({"/healthz"})

Handler = Callable[[flask.Request], flask.Response]


class HttpRequest(Protocol):
    """What the metrics, spans and logs read of a request: a Flask request, or a RequestView of
    an ASGI one."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class RequestView:
    method: str
    path: str
    headers: Mapping[str, str]


def request_fields(headers: Mapping[str, str]) -> dict[str, str]:
    """What every log line of this request carries besides the trace id (binary-mode CloudEvent
    attributes arrive as ce-* headers)."""
    fields = {
        "cloudevent_id": headers.get("ce-id", ""),
        "cloudevent_type": headers.get("ce-type", ""),
    }
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
        trace_id = tracing.current_trace_id()
        if trace_id:
            line["trace_id"] = trace_id
        # log.info("...", extra={"fields": {...}}) adds structured fields to the line.
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, level: int = logging.INFO) -> None:
    """Every log line of the process as one JSON object on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # Alembic announces each of its plugins at INFO whenever a function checks the schema: eight
    # lines of every cold start that say nothing about this service. Its migrations still log.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class GunicornJsonLogger(gunicorn.glogging.Logger):
    """gunicorn's own lines (start-up, workers, errors) as the same JSON lines, under the service
    name given by `--name`: `gunicorn --name api --logger-class
    taskflow.entrypoints.observability.GunicornJsonLogger ...` (the API's image does)."""

    def setup(self, cfg: gunicorn.config.Config) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter(cfg.proc_name))


def _json_logs_unless_configured(service: str) -> None:
    """JSON lines, unless the process already chose its handlers (the local runner's readable
    lines, pytest's capture): a served function or API has none when it is imported."""
    if not logging.getLogger().handlers:
        configure_logging(service)


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    return "rejected" if status < 500 else "failed"


def record(
    service: str, request: HttpRequest, route: str, status: int, seconds: float, span: trace.Span
) -> None:
    """Count, time and log one answer, and name its span after the route."""
    metrics.HTTP_REQUESTS.labels(service, request.method, route, str(status)).inc()
    event_type = request.headers.get("ce-type")
    if event_type:
        metrics.EVENT_HANDLING.labels(service, event_type, _outcome(status)).observe(seconds)
        if status >= 500:
            metrics.EVENT_FAILURES.labels(service, event_type).inc()
    if _untraced(request):
        return
    span.update_name(f"{request.method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(trace.StatusCode.ERROR)
    # The route, never the path or the query: user ids and tokens stay out of the logs.
    log.log(
        logging.DEBUG if status < 400 and _timer_tick.get() else logging.INFO,
        "%s %s %s",
        request.method,
        route,
        status,
        extra={"fields": {"status": status, "duration_ms": round(seconds * 1000, 1)}},
    )


def _span_attributes(method: str, headers: Mapping[str, str]) -> dict[str, str]:
    # Names from OpenTelemetry's semantic conventions (HTTP, CloudEvents).
    attributes = {"http.request.method": method}
    for header, attribute in (
        ("ce-id", "cloudevents.event_id"),
        ("ce-type", "cloudevents.event_type"),
    ):
        if headers.get(header):
            attributes[attribute] = headers[header]
    return attributes


def _untraced(request: HttpRequest) -> bool:
    # Probes come every few seconds from every pod: counted, never traced or logged. (Scrapes
    # go to the metrics port, which none of this sees.)
    return request.method == "GET" and request.path in UNTRACED_PATHS


def _span(
    service: str, request: HttpRequest, attributes: Mapping[str, str]
) -> AbstractContextManager[trace.Span]:
    if _untraced(request):
        return nullcontext(trace.INVALID_SPAN)
    return tracing.server_span(service, request.method, request.headers, attributes)


def observed(service: str) -> Callable[[Handler], Handler]:
    """Wrap a functions-framework HTTP target (place it under @functions_framework.http). The
    CLI imports the target in gunicorn's master and forks the worker that serves: the metrics
    port opens in the worker as it forks, or on the first request where nothing forks (the
    Flask development server)."""
    _json_logs_unless_configured(service)
    os.register_at_fork(after_in_child=serve_metrics)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def target(request: flask.Request) -> flask.Response:
            serve_metrics()
            started = time.perf_counter()
            fields = _request_fields.set(request_fields(request.headers))
            tick = _timer_tick.set(False)
            attributes = _span_attributes(request.method, request.headers)
            try:
                with _span(service, request, attributes) as span:
                    response = _answer(handler, request)
                    route = _route_label(request.path, response.status_code)
                    elapsed = time.perf_counter() - started
                    record(service, request, route, response.status_code, elapsed, span)
            finally:
                _timer_tick.reset(tick)
                _request_fields.reset(fields)
            return response

        return target

    return decorate


AsyncHandler = Callable[["starlette.requests.Request"], Awaitable["starlette.responses.Response"]]


def observed_async(service: str) -> Callable[[AsyncHandler], AsyncHandler]:
    """`observed` for an ASGI target (under @functions_framework.aio.http): the handler takes a
    Starlette request, answers a Starlette response and runs on the event loop."""
    import starlette.responses

    _json_logs_unless_configured(service)

    def decorate(handler: AsyncHandler) -> AsyncHandler:
        @functools.wraps(handler)
        async def target(request: starlette.requests.Request) -> starlette.responses.Response:
            serve_metrics()  # once; uvicorn serves from the process that imported this
            view = RequestView(request.method, request.url.path, request.headers)
            started = time.perf_counter()
            fields = _request_fields.set(request_fields(view.headers))
            attributes = _span_attributes(view.method, view.headers)
            try:
                with _span(service, view, attributes) as span:
                    try:
                        response = await handler(request)
                    except Exception:
                        # As in _answer: logged inside the span; an empty 500 is retried.
                        log.exception("%s %s failed", view.method, view.path)
                        response = starlette.responses.Response(status_code=500)
                    route = _route_label(view.path, response.status_code)
                    elapsed = time.perf_counter() - started
                    record(service, view, route, response.status_code, elapsed, span)
            finally:
                _request_fields.reset(fields)
            return response

        return target

    return decorate


def _route_label(path: str, status: int) -> str:
    """A function's path as a bounded label. Unknown paths share `unmatched`, so scanners cannot
    grow the series count; a path under a prefix keeps only its first segment (Dapr's job
    callbacks are `/job/<job name>`, one name per reminder)."""
    if status == 404:
        return "unmatched"
    first, _, rest = path.lstrip("/").partition("/")
    return f"/{first}/*" if rest else path


def _answer(handler: Handler, request: flask.Request) -> flask.Response:
    try:
        return handler(request)
    except Exception:
        # Logged here, inside the request's span, so the traceback carries the event and trace
        # ids; an empty 500 is what the broker retries (then dead-letters).
        log.exception("%s %s failed", request.method, request.path)
        return flask.Response(status=500)


def observe_app(app: flask.Flask, service: str) -> None:
    """The same for a Flask app; routes are labelled by their rule (`/api/<user_id>/tasks`),
    never by the raw path, so user ids never become label values. Call it before registering
    other request hooks, so a request another hook answers early is still counted and traced.
    gunicorn builds the app in its worker (no --preload), so the metrics port opens here."""
    _json_logs_unless_configured(service)
    serve_metrics()

    @app.before_request
    def start() -> None:
        request = flask.request
        flask.g.observability_started = time.perf_counter()
        scope = flask.g.observability_scope = ExitStack()
        fields = _request_fields.set(request_fields(request.headers))
        scope.callback(_request_fields.reset, fields)
        attributes = _span_attributes(request.method, request.headers)
        flask.g.observability_span = scope.enter_context(_span(service, request, attributes))

    @app.after_request
    def finish(response: flask.Response) -> flask.Response:
        request = flask.request
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        elapsed = time.perf_counter() - flask.g.get("observability_started", time.perf_counter())
        span = flask.g.get("observability_span", trace.INVALID_SPAN)
        record(service, request, rule, response.status_code, elapsed, span)
        return response

    @app.teardown_request
    def forget(_: BaseException | None) -> None:
        scope = flask.g.pop("observability_scope", None)
        if scope is not None:
            scope.close()
