"""Metrics and JSON logs of the services (taskflow.entrypoints.observability): what an operator
sees in Prometheus and in the logs when requests and CloudEvents arrive."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import flask
import pytest
import requests
from prometheus_client import REGISTRY, generate_latest
from taskflow import catalogue, tracing
from taskflow.entrypoints import function_routes, observability
from taskflow_dev.local.launch import free_port

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


def exported() -> str:
    """What the process's metrics port serves (its whole registry)."""
    return generate_latest().decode()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def function_app(service: str, raising: bool = False) -> flask.Flask:
    """A Flask app routing every path to an observed function target, as functions-framework
    does, with a route table as the functions have: 202 for a good event, 400 for a bad one, 500
    when the handler breaks. The handler logs, and builds a CloudEvent as a reply would."""
    log = logging.getLogger(f"test.{service}")

    def handle(request: flask.Request) -> flask.Response:
        log.info("handling")
        event_type = request.headers.get("ce-type", "")
        if event_type.endswith("broken"):
            if raising:
                raise RuntimeError("the database is gone")
            return flask.Response(status=500)
        if event_type.endswith("bad"):
            return flask.Response(status=400)
        reply = catalogue.new_event(
            catalogue.COMPLETE_TASK,
            {"user_id": "u-1", "task_id": 1},
            user_id="u-1",
            source="test",
        )
        return flask.Response(status=202, headers=tracing.transport_headers(reply))

    routes: function_routes.Routes = {("POST", "/"): handle, ("POST", "/deliver"): handle}

    @observability.observed(service)
    def target(request: flask.Request) -> flask.Response:
        # As send-reminder answers Dapr's job callbacks, one path per job.
        if request.path.startswith("/job/"):
            return flask.Response(status=200)
        return function_routes.dispatch(request, routes)

    app = flask.Flask(service)
    app.add_url_rule("/", "root", lambda: target(flask.request), methods=["GET", "POST"])
    app.add_url_rule(
        "/<path:path>", "any", lambda path: target(flask.request), methods=["GET", "POST"]
    )
    return app


def event_headers(event_type: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-type": event_type,
        "ce-source": "test",
        "ce-id": f"event-{uuid.uuid4()}",
        "traceparent": TRACEPARENT,
    }


@pytest.fixture
def service() -> str:
    return f"svc-{uuid.uuid4().hex[:8]}"


def test_events_are_counted_and_timed_by_type_and_outcome(service: str) -> None:
    client = function_app(service).test_client()
    client.post("/", headers=event_headers("com.taskflow.task.created"))
    client.post("/", headers=event_headers("com.taskflow.task.bad"))
    client.post("/deliver", headers=event_headers("com.taskflow.task.broken"))

    assert (
        sample(
            "taskflow_http_requests_total", service=service, method="POST", route="/", status="202"
        )
        == 1
    )
    assert (
        sample(
            "taskflow_http_requests_total",
            service=service,
            method="POST",
            route="/deliver",
            status="500",
        )
        == 1
    )
    handled = "taskflow_event_handling_seconds_count"
    assert sample(handled, service=service, type="com.taskflow.task.created", outcome="ok") == 1
    assert sample(handled, service=service, type="com.taskflow.task.bad", outcome="rejected") == 1
    assert sample(handled, service=service, type="com.taskflow.task.broken", outcome="failed") == 1
    failures = "taskflow_event_failures_total"
    assert sample(failures, service=service, type="com.taskflow.task.broken") == 1
    assert sample(failures, service=service, type="com.taskflow.task.bad") == 0


def test_unknown_paths_share_one_label(service: str) -> None:
    client = function_app(service).test_client()
    for path in ("/wp-admin", "/.env", "/x/y"):
        client.get(path)
    labels = dict(service=service, method="GET", route="unmatched", status="404")
    assert sample("taskflow_http_requests_total", **labels) == 3
    assert sample("taskflow_http_requests_total", **{**labels, "route": "/.env"}) == 0


def test_paths_under_a_prefix_share_one_label(service: str) -> None:
    client = function_app(service).test_client()
    for job in ("reminder-1-r1-1767258000", "reminder-2-r1-1767258000"):
        assert client.post(f"/job/{job}").status_code == 200
    labels = dict(service=service, method="POST", route="/job/*", status="200")
    assert sample("taskflow_http_requests_total", **labels) == 2
    assert "reminder-1" not in exported()


def test_metrics_are_served_in_prometheus_format_on_the_metrics_port_only(service: str) -> None:
    """The port of users and deliveries answers /metrics 404 (issue 12, item 6); the process's
    metrics port serves them."""
    client = function_app(service).test_client()
    client.post("/", headers=event_headers("com.taskflow.task.created"))
    assert client.get("/metrics").status_code == 404
    port = free_port()
    observability.serve_metrics(("127.0.0.1", port))
    answer = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert (
        f'taskflow_http_requests_total{{method="POST",route="/",service="{service}",status="202"}}'
        in answer.text
    )


@contextlib.contextmanager
def json_log_lines(service: str) -> Iterator[list[dict[str, Any]]]:
    """The JSON lines the process logs meanwhile, as the services' formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.JsonFormatter(service))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


def test_log_lines_are_json_with_the_event_and_trace_ids(service: str) -> None:
    headers = event_headers("com.taskflow.task.created")
    with json_log_lines(service) as lines:
        function_app(service).test_client().post("/", headers=headers)
        logging.getLogger(f"test.{service}").info("after the request")

    during = next(line for line in lines if line["message"] == "handling")
    assert during["service"] == service
    assert during["cloudevent_id"] == headers["ce-id"]
    assert during["cloudevent_type"] == "com.taskflow.task.created"
    assert during["trace_id"] == TRACE_ID
    answered = next(line for line in lines if line["message"] == "POST / 202")
    assert answered["trace_id"] == TRACE_ID and answered["status"] == 202
    after = lines[-1]
    assert after["message"] == "after the request"
    assert "cloudevent_id" not in after and "trace_id" not in after


def test_the_trace_goes_on_in_the_events_a_handler_builds(service: str) -> None:
    client = function_app(service).test_client()
    answer = client.post("/", headers=event_headers("com.taskflow.task.created"))
    version, trace_id, span_id, _flags = answer.headers["traceparent"].split("-")
    assert (version, trace_id) == ("00", TRACE_ID)
    # A child of the incoming span: the handler's own span, not the caller's.
    assert span_id != PARENT_SPAN_ID


def test_the_cloudevent_extension_wins_over_the_transport_header(service: str) -> None:
    headers = {
        **event_headers("com.taskflow.task.created"),
        "ce-traceparent": TRACEPARENT,
        "traceparent": f"00-{'1' * 32}-{'2' * 16}-01",
    }
    answer = function_app(service).test_client().post("/", headers=headers)
    assert answer.headers["traceparent"].split("-")[1] == TRACE_ID


def test_a_request_without_trace_context_starts_a_trace(service: str) -> None:
    headers = event_headers("com.taskflow.task.created")
    del headers["traceparent"]
    with json_log_lines(service) as lines:
        answer = function_app(service).test_client().post("/", headers=headers)
    trace_id = answer.headers["traceparent"].split("-")[1]
    assert len(trace_id) == 32 and trace_id != "0" * 32
    assert {line.get("trace_id") for line in lines if line["service"] == service} == {trace_id}


def test_a_handler_that_raises_is_a_logged_failure_with_the_event_id(service: str) -> None:
    headers = event_headers("com.taskflow.task.broken")
    with json_log_lines(service) as lines:
        answer = function_app(service, raising=True).test_client().post("/", headers=headers)
    assert answer.status_code == 500
    failure = next(line for line in lines if "exception" in line)
    assert "the database is gone" in failure["exception"]
    assert failure["cloudevent_id"] == headers["ce-id"] and failure["trace_id"] == TRACE_ID
    failures = "taskflow_event_failures_total"
    assert sample(failures, service=service, type="com.taskflow.task.broken") == 1


def test_a_flask_app_is_labelled_by_route_rule_never_by_user_id(service: str) -> None:
    app = flask.Flask(service)

    @app.get("/api/<user_id>/tasks")
    def tasks(user_id: str) -> flask.Response:
        return flask.jsonify([])

    observability.observe_app(app, service)
    client = app.test_client()
    client.get("/api/u-123/tasks")
    client.get("/nowhere")

    rule = dict(service=service, method="GET", route="/api/<user_id>/tasks", status="200")
    assert sample("taskflow_http_requests_total", **rule) == 1
    assert (
        sample("taskflow_http_requests_total", **{**rule, "route": "unmatched", "status": "404"})
        == 1
    )
    assert "u-123" not in exported()
    assert client.get("/metrics").status_code == 404
