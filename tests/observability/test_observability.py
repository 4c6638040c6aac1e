"""Metrics and JSON logs of the services (taskflow.entrypoints.observability): what an operator
sees in Prometheus and in the logs when requests and CloudEvents arrive."""

from __future__ import annotations

import io
import json
import logging
import uuid

import flask
import pytest
from prometheus_client import REGISTRY
from taskflow.entrypoints import observability

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def function_app(service: str) -> flask.Flask:
    """A Flask app routing every path to an observed function target, as functions-framework
    does: 202 for a good event, 400 for a bad one, 500 when the handler breaks."""
    log = logging.getLogger(f"test.{service}")

    @observability.observed(service)
    def target(request: flask.Request) -> flask.Response:
        log.info("handling")
        if request.path not in ("/", "/deliver"):
            return flask.Response(status=404)
        event_type = request.headers.get("ce-type", "")
        if event_type.endswith("broken"):
            return flask.Response(status=500)
        return flask.Response(status=400 if event_type.endswith("bad") else 202)

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


def test_metrics_are_served_in_prometheus_format(service: str) -> None:
    client = function_app(service).test_client()
    client.post("/", headers=event_headers("com.taskflow.task.created"))
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    assert (
        f'taskflow_http_requests_total{{method="POST",route="/",service="{service}",status="202"}}'
        in answer.text
    )


def test_log_lines_are_json_with_the_event_and_trace_ids(service: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.JsonFormatter(service))
    logger = logging.getLogger(f"test.{service}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    headers = event_headers("com.taskflow.task.created")
    try:
        function_app(service).test_client().post("/", headers=headers)
        logger.info("after the request")
    finally:
        logger.removeHandler(handler)

    during, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert during["service"] == service
    assert during["message"] == "handling"
    assert during["cloudevent_id"] == headers["ce-id"]
    assert during["trace_id"] == TRACE_ID
    assert "cloudevent_id" not in after and "trace_id" not in after


def test_trace_id_comes_from_the_cloudevent_extension_too() -> None:
    assert observability.trace_id({"ce-traceparent": TRACEPARENT}) == TRACE_ID
    assert observability.trace_id({"traceparent": "garbage"}) == ""


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
    assert "u-123" not in client.get("/metrics").text
