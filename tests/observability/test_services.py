"""Every service, run as deployed, exports its metrics, logs JSON lines carrying the CloudEvent id
and the trace id (never a token), and one command keeps one trace id from the API through
create-task, the outbox, the router and write-audit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from database_state import run_command
from function_events import a_task, post_binary, task_event
from function_processes import REPO_ROOT, CapturingBroker, FunctionProcesses
from metrics_ports import metrics_url, scrape, scrape_here
from sender_keys import ROUTER, headers_for, known_as
from service_logs import StartApi, function_log, json_lines
from taskflow import catalogue
from taskflow.config import FUNCTIONS
from taskflow.domain import commands
from taskflow_dev.local.launch import wait_until
from taskflow_dev.router.server import RouterServer
from werkzeug.serving import make_server

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
PASSWORD = "correct horse battery staple"
SECRET_TOKEN = "eyJhbGciOiJIUzI1NiJ9.secret-token-that-must-never-be-logged"


def traced(event: CloudEvent) -> CloudEvent:
    event["traceparent"] = TRACEPARENT
    return event


def command() -> CloudEvent:
    return catalogue.new_event(
        catalogue.CREATE_TASK,
        {"user_id": "alice", "title": "watch the metrics"},
        user_id="alice",
        source="tests/observability",
    )


def dead_letter() -> CloudEvent:
    event = task_event(catalogue.TASK_CREATED, a_task("alice", 7))
    event["knativeerrordest"] = "http://write-audit.taskflow.svc/"
    return event


# function -> (path, the CloudEvent it handles there, the status it answers)
HANDLED: dict[str, tuple[str, Callable[[], CloudEvent], int]] = {
    "create_task": ("/commands", command, 200),
    "spawn_recurrence": (
        "/",
        lambda: task_event(catalogue.TASK_COMPLETED, a_task("alice", 7)),
        202,
    ),
    "send_reminder": ("/", lambda: task_event(catalogue.TASK_CREATED, a_task("alice", 7)), 202),
    "write_audit": ("/", lambda: task_event(catalogue.TASK_CREATED, a_task("alice", 7)), 202),
    "broadcast_update": ("/", lambda: task_event(catalogue.TASK_CREATED, a_task("alice", 7)), 202),
    "dead_letter": ("/", dead_letter, 202),
}


@pytest.mark.parametrize("name", sorted(HANDLED))
def test_a_handled_event_moves_the_function_metrics_and_is_logged_with_its_ids(
    name: str, start_function: FunctionProcesses, function_env: dict[str, str], tmp_path: Path
) -> None:
    path, make_event, status = HANDLED[name]
    base_url = start_function(name, function_env)
    service = name.replace("_", "-")
    event = traced(make_event())

    answer = post_binary(f"{base_url}{path}", event)

    assert answer.status_code == status, answer.text
    # Metrics only on the metrics port: the port of users and deliveries knows no /metrics.
    assert requests.get(f"{base_url}/metrics", timeout=10).status_code == 404
    assert metrics_url(base_url) != base_url
    sample = scrape(base_url)
    requests_total = "taskflow_http_requests_total"
    assert sample(requests_total, service=service, route=path, status=str(status)) == 1
    handled = "taskflow_event_handling_seconds_count"
    assert sample(handled, service=service, type=event["type"], outcome="ok") == 1
    assert sample("taskflow_event_failures_total", service=service) == 0
    if name == "dead_letter":
        letters = "taskflow_dead_letters_total"
        assert sample(letters, type=event["type"], destination=event["knativeerrordest"]) == 1
    lines = json_lines(function_log(tmp_path, name, base_url))
    answered = [line for line in lines if line.get("cloudevent_id") == event["id"]]
    assert answered, lines
    assert {(line["cloudevent_type"], line["trace_id"]) for line in answered} == {
        (event["type"], TRACE_ID)
    }


def test_a_rejected_and_a_failing_event_are_told_apart(
    start_function: FunctionProcesses, function_env: dict[str, str]
) -> None:
    base_url = start_function("write_audit", function_env)
    not_a_task_event = catalogue.new_event(
        catalogue.REMINDER_DUE,
        {
            "task_id": 7,
            "reminder_id": "r1",
            "title": "t",
            "due_at": None,
            "due_date": None,
            "remind_at": "2026-01-01T09:00:00+00:00",
            "user_id": "alice",
        },
        user_id="alice",
        source="tests/observability",
    )
    assert post_binary(base_url, not_a_task_event).status_code == 400
    # An unreachable database is the failure a broker retries.
    broken = {**function_env, "DATABASE_URL": "postgresql+pg8000://nobody@127.0.0.1:1/none"}
    broken_url = start_function("write_audit", broken)
    event = task_event(catalogue.TASK_CREATED, a_task("alice", 7))
    assert post_binary(broken_url, event).status_code == 500

    rejected = scrape(base_url)("taskflow_event_handling_seconds_count", outcome="rejected")
    assert rejected == 1
    failed = scrape(broken_url)
    assert failed("taskflow_event_failures_total", type=catalogue.TASK_CREATED) == 1
    assert failed("taskflow_http_requests_total", status="500") == 1


@pytest.fixture
def product(
    start_api: StartApi,
    start_function: FunctionProcesses,
    function_env: dict[str, str],
    broker: CapturingBroker,
    tmp_path: Path,
) -> Iterator[Product]:
    """API (gunicorn) -> create-task -> outbox -> router (eventing/ manifests) -> write-audit;
    the router's other subscribers are the capturing stand-in."""
    write_audit_url = start_function("write_audit", function_env)
    others = {name.replace("_", "-"): broker.url for name in FUNCTIONS}
    router = RouterServer(
        REPO_ROOT / "eventing",
        {**others, "write-audit": write_audit_url},
        tmp_path / "router",
    ).start()
    known_as(router.url, ROUTER)
    try:
        create_task_url = start_function(
            "create_task", {**function_env, "BROKER_URL": f"{router.url}/taskflow"}
        )
        api_url = start_api({**function_env, "CREATE_TASK_URL": create_task_url})
        yield Product(
            api_url=api_url,
            router_url=router.url,
            api_log=tmp_path / "api.log",
            create_task_log=function_log(tmp_path, "create_task", create_task_url),
            write_audit_log=function_log(tmp_path, "write_audit", write_audit_url),
        )
    finally:
        router.close()


@dataclass(frozen=True)
class Product:
    api_url: str
    router_url: str
    api_log: Path
    create_task_log: Path
    write_audit_log: Path

    def sign_up(self) -> tuple[str, dict[str, str]]:
        answer = requests.post(
            f"{self.api_url}/api/auth/signup",
            json={"email": f"{uuid.uuid4().hex[:8]}@example.org", "password": PASSWORD},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return body["user_id"], {"Authorization": f"Bearer {body['token']}"}

    def create_task(self, user_id: str, headers: dict[str, str], title: str) -> dict[str, Any]:
        answer = requests.post(
            f"{self.api_url}/api/{user_id}/tasks",
            json={"title": title},
            headers=headers,
            timeout=20,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def audited_trace_ids(self) -> set[str]:
        """Trace ids of the task.created events write-audit handled."""
        return {
            line["trace_id"]
            for line in json_lines(self.write_audit_log)
            if line.get("cloudevent_type") == catalogue.TASK_CREATED and "trace_id" in line
        }


def audit_deliveries(product: Product) -> float:
    # The router runs in this test process: its registry is this process's.
    return scrape_here()(
        "taskflow_router_deliveries_total", trigger="write-audit-task-events", outcome="delivered"
    )


def test_one_command_keeps_one_trace_id_from_the_api_to_write_audit(product: Product) -> None:
    user_id, auth = product.sign_up()
    # Routers of earlier tests counted in this process's metrics too.
    deliveries_before = audit_deliveries(product)

    product.create_task(user_id, {**auth, "traceparent": TRACEPARENT}, "follow me")

    wait_until(lambda: TRACE_ID in product.audited_trace_ids(), what="write-audit's traced line")
    command_lines = [
        line
        for line in json_lines(product.create_task_log)
        if line.get("cloudevent_type") == catalogue.CREATE_TASK
    ]
    assert {line["trace_id"] for line in command_lines} == {TRACE_ID}
    created_route = "POST /api/<user_id>/tasks 201"
    api_lines = [line for line in json_lines(product.api_log) if line["message"] == created_route]
    assert [line["trace_id"] for line in api_lines] == [TRACE_ID]
    # The router counts a delivery once write-audit's answer is back, just after its log line.
    wait_until(
        lambda: audit_deliveries(product) == deliveries_before + 1,
        what="the router's count of the delivery",
    )


def test_the_api_starts_the_trace_of_a_request_that_carries_none(product: Product) -> None:
    user_id, auth = product.sign_up()

    product.create_task(user_id, auth, "a fresh trace")

    created_route = "POST /api/<user_id>/tasks 201"
    (api_line,) = [line for line in json_lines(product.api_log) if line["message"] == created_route]
    started = api_line["trace_id"]
    assert len(started) == 32
    wait_until(
        lambda: started in product.audited_trace_ids(), what="the API's trace at write-audit"
    )
    api_requests = scrape(product.api_url)
    assert (
        api_requests(
            "taskflow_http_requests_total",
            service="api",
            route="/api/<user_id>/tasks",
            status="201",
        )
        == 1
    )
    assert user_id not in requests.get(f"{metrics_url(product.api_url)}/metrics", timeout=10).text
    # The web app's public port serves the page, the API and the probes, never the metrics.
    assert requests.get(f"{product.api_url}/metrics", timeout=10).status_code == 404


def test_tokens_and_passwords_never_reach_the_logs(
    product: Product,
    start_function: FunctionProcesses,
    function_env: dict[str, str],
    tmp_path: Path,
) -> None:
    user_id, auth = product.sign_up()
    product.create_task(user_id, auth, "secrets stay secret")
    leaked = {"Authorization": f"Bearer {SECRET_TOKEN}"}
    assert (
        requests.get(
            f"{product.api_url}/api/{user_id}/tasks", headers=leaked, timeout=10
        ).status_code
        == 401
    )
    assert (
        requests.get(f"{product.api_url}/api/me?token={SECRET_TOKEN}", timeout=10).status_code
        == 401
    )
    write_audit_url = start_function("write_audit", function_env)
    event = task_event(catalogue.TASK_CREATED, a_task(user_id, 7))
    headers, body = to_binary(event)
    # A door refuses a user's token (401) without writing it down; the delivery's own token is
    # a secret too.
    refused = requests.post(write_audit_url, data=body, headers={**headers, **leaked}, timeout=10)
    assert refused.status_code == 401
    delivery = headers_for(write_audit_url)
    answer = requests.post(write_audit_url, data=body, headers=headers | delivery, timeout=10)
    assert answer.status_code == 202
    wait_until(lambda: product.audited_trace_ids(), what="the audited task")

    logs = [product.api_log, product.create_task_log, product.write_audit_log]
    logs.append(function_log(tmp_path, "write_audit", write_audit_url))
    for log in logs:
        json_lines(log)  # every line is JSON
        text = log.read_text()
        assert SECRET_TOKEN not in text
        assert delivery["Authorization"].split()[1] not in text
        assert auth["Authorization"].split()[1] not in text
        assert PASSWORD not in text


class RefusingSubscriber:
    """A subscriber that refuses every delivery with a non-retryable 400."""

    def __init__(self) -> None:
        self._server = make_server("127.0.0.1", 0, self._refuse, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @staticmethod
    def _refuse(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("400 Bad Request", [("Content-Length", "0")])
        return []

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_the_router_counts_dead_letters(broker: CapturingBroker, tmp_path: Path) -> None:
    refusing = RefusingSubscriber()
    others = {name.replace("_", "-"): broker.url for name in FUNCTIONS}
    router = RouterServer(
        REPO_ROOT / "eventing", {**others, "write-audit": refusing.url}, tmp_path
    ).start()
    known_as(router.url, ROUTER)
    try:
        # Other routers of this test session share the process's metrics: compare.
        before = scrape_here()
        event = task_event(catalogue.TASK_CREATED, a_task("alice", 7))
        assert post_binary(f"{router.url}/taskflow/{catalogue.TOPIC_TASK_EVENTS}", event).ok
        wait_until(lambda: router.dead_letters.all(), what="the dead letter")
        after = scrape_here()
    finally:
        router.close()
        refusing.close()

    def moved(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    assert moved("taskflow_dead_letters_total", type=catalogue.TASK_CREATED) == 1
    trigger = "write-audit-task-events"
    assert moved("taskflow_router_deliveries_total", trigger=trigger, outcome="dead_lettered") == 1
    assert moved("taskflow_router_deliveries_total", trigger=trigger, outcome="delivered") == 0


def test_a_reminder_fired_late_records_its_lateness(
    start_function: FunctionProcesses, function_env: dict[str, str], database_url: str
) -> None:
    remind_at = datetime.now(UTC) + timedelta(seconds=1)
    run_command(
        database_url,
        commands.CreateTask(
            user_id="alice", title="late", reminders=[{"at": remind_at.isoformat()}]
        ),
    )
    late_by = timedelta(seconds=3)
    wait_until(lambda: datetime.now(UTC) > remind_at + late_by, what="the reminder to be late")

    # Down while it fell due: send-reminder catches up when it starts.
    base_url = start_function("send_reminder", function_env)
    sweep_url = f"{base_url}/sweep"
    assert requests.post(sweep_url, headers=headers_for(sweep_url), timeout=30).status_code == 202

    sample = scrape(base_url)
    assert sample("taskflow_reminder_lateness_seconds_count") == 1
    assert sample("taskflow_reminder_lateness_seconds_sum") >= late_by.total_seconds()


def test_timer_ticks_keep_out_of_the_log_unless_refused(
    start_function: FunctionProcesses, function_env: dict[str, str], tmp_path: Path
) -> None:
    """`just up`'s timers tick every few seconds (a PingSource every minute): a tick answered
    well adds no line to the operator's log, its count is in the metrics; a refused one is
    logged like any other request."""
    base_url = start_function("send_reminder", function_env)
    sweep_url = f"{base_url}/sweep"
    for _ in range(3):
        tick = requests.post(sweep_url, headers=headers_for(sweep_url), timeout=30)
        assert tick.status_code == 202
    assert requests.post(sweep_url, timeout=30).status_code == 401

    counted = scrape(base_url)
    assert counted("taskflow_http_requests_total", route="/sweep", status="202") == 3
    wait_until(
        lambda: any(
            line["message"] == "POST /sweep 401"
            for line in json_lines(function_log(tmp_path, "send_reminder", base_url))
        ),
        what="the refused tick's log line",
    )
    lines = json_lines(function_log(tmp_path, "send_reminder", base_url))
    assert [line["message"] for line in lines if line["message"].startswith("POST /sweep")] == [
        "POST /sweep 401"
    ]
