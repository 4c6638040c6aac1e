"""The deployment agrees with the code: every event the code routes has a Trigger, every Trigger
reaches a function that handles what it filters, and each service's Knative Service, func.yaml,
Dapr app id, chart entry and image target name the same thing with the same port and settings."""

from __future__ import annotations

import contextlib
import re
import secrets
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dockerfile_stages
import pytest
import requests
import yaml
from chart import CHART, load_documents
from deploy_toolchain import REPO_ROOT
from metrics_ports import metrics_env, metrics_url, scrape, serves_metrics_at
from sender_keys import KEYS as SENDER_TEST_KEYS
from sender_keys import headers_for, known_as
from taskflow import catalogue
from taskflow.config import SENDER_KEYS
from taskflow_dev.local.launch import START_TIMEOUT_SECONDS, free_port, wait_until
from taskflow_dev.local.processes import function_command
from taskflow_dev.router import manifests

# Ports Knative's queue-proxy holds in every pod; a sidecar must not take them.
QUEUE_PROXY_PORTS = {8012, 8022, 9090, 9091}
APP_PORT = 8080
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = VALUES["services"]
EVENTING = manifests.load(REPO_ROOT / "eventing")


def knative_service(name: str) -> dict[str, Any]:
    (document,) = load_documents(REPO_ROOT / "knative" / f"{name}.yaml")
    return document


def func_yaml(name: str) -> dict[str, Any] | None:
    path = REPO_ROOT / "knative" / "func" / name / "func.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else None


def attributes_of(event_type: str) -> dict[str, str]:
    return {"type": event_type, "specversion": "1.0", "source": "test", "id": "1"}


def routed_types() -> list[tuple[str, str]]:
    """(event type, topic) for every catalogued type that travels through a broker."""
    return [(event.type, topic) for event in catalogue.CATALOGUE.values() for topic in event.topics]


def config_variables() -> set[str]:
    source = (REPO_ROOT / "functions" / "taskflow" / "config.py").read_text()
    read = set(re.findall(r'(?:_env|_secret|secrets\.get)\(\s*"([A-Z0-9_]+)"', source))
    return read | set(SENDER_KEYS)  # read as secrets by name, from that one table


@pytest.mark.parametrize("event_type,topic", routed_types())
def test_every_routed_event_type_has_a_trigger(event_type: str, topic: str) -> None:
    assert topic in EVENTING.brokers, f"no Broker named {topic}"
    triggers = [t for t in EVENTING.triggers_of(topic) if t.matches(attributes_of(event_type))]
    assert triggers, f"{event_type} is published to {topic} but no Trigger delivers it"


@pytest.mark.parametrize("trigger", EVENTING.triggers, ids=lambda trigger: trigger.name)
def test_every_trigger_reaches_a_function_that_handles_its_events(
    trigger: manifests.Trigger, running: dict[str, str]
) -> None:
    """Each type the Trigger delivers, POSTed to the running subscriber at the Trigger's path,
    gets past the type check (an empty `data` is then refused as bad data, not as a bad type)."""
    delivered = [
        event_type
        for event_type, topic in routed_types()
        if topic == trigger.broker and trigger.matches(attributes_of(event_type))
    ]
    assert delivered, f"{trigger.name} filters for no event type published on {trigger.broker}"
    service = trigger.subscriber.service
    assert service in SERVICES and SERVICES[service].get("source"), f"{service} is no function"
    url = trigger.subscriber.url(running)
    for event_type in delivered:
        answer = post_event(url, event_type)
        assert answer.status_code not in (404, 405), f"{url} is not served"
        assert answer.status_code < 500, f"{url} failed on {event_type}: {answer.text}"
        assert error_field(answer) != "type", f"{service} does not handle {event_type}"


def test_dead_letters_and_timers_reach_deployed_services() -> None:
    sinks = {t.delivery.dead_letter_sink for t in EVENTING.triggers if t.delivery.dead_letter_sink}
    assert sinks, "no Trigger has a dead-letter sink"
    assert {sink.service for sink in sinks} <= set(SERVICES)
    for timer in VALUES["timers"].values():
        assert timer["service"] in SERVICES


@pytest.mark.parametrize("name", SERVICES)
def test_service_func_yaml_dapr_and_chart_agree(name: str) -> None:
    service = knative_service(name)
    function = func_yaml(name)
    template = service["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    container = template["spec"]["containers"][0]
    entry = SERVICES[name]

    assert service["metadata"]["name"] == annotations["dapr.io/app-id"] == name
    assert container["image"] == f"dev.local/taskflow/{name}:dev"
    assert [port["containerPort"] for port in container["ports"]] == [APP_PORT]
    assert int(annotations["dapr.io/app-port"]) == APP_PORT
    assert int(annotations["dapr.io/metrics-port"]) not in QUEUE_PROXY_PORTS | {APP_PORT}
    assert int(annotations["autoscaling.knative.dev/min-scale"]) == entry["minScale"]
    assert int(annotations["autoscaling.knative.dev/max-scale"]) == entry["maxScale"]
    if entry.get("probe") == "tcp":
        assert function is None, "func.yaml cannot express a TCP probe: no func.yaml"
        return
    assert function is not None, f"knative/func/{name}/func.yaml is missing"
    assert function["name"] == name and function["image"] == container["image"]
    scale = function["deploy"]["options"]["scale"]
    assert (scale["min"], scale["max"]) == (entry["minScale"], entry["maxScale"])
    assert function["deploy"]["annotations"]["dapr.io/app-id"] == name
    # func copies these onto the Service itself, where Knative Serving refuses autoscaling keys.
    annotations_of_func = function["deploy"]["annotations"]
    autoscaling = [key for key in annotations_of_func if key.startswith("autoscaling.")]
    assert not autoscaling, f"func deploy would be refused for {autoscaling}"
    probes = function["deploy"]["healthEndpoints"]
    assert container["readinessProbe"]["httpGet"]["path"] == probes["readiness"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == probes["liveness"] == "/healthz"


@pytest.mark.parametrize("name", SERVICES)
def test_image_target_runs_the_service(name: str) -> None:
    command, environment = dockerfile_stages.target(name)
    assert command, f"target {name} runs nothing"
    assert environment["PORT"] == str(APP_PORT)
    source = SERVICES[name].get("source")
    if source:
        assert environment["FUNCTION_TARGET"] == source
        code = Path(environment["FUNCTION_SOURCE"]).read_text()
        defined = re.search(rf"^(?:async )?def {source}\(", code, re.M)
        assert defined, f"main.py defines no {source}()"


def test_live_sync_runs_alike_in_its_image_and_locally() -> None:
    """broadcast-update serves itself (its main.py runs aiohttp), not through the
    functions-framework CLI: the image and the local runner (and with it every test) must start
    it with the same script and options."""
    command, _ = dockerfile_stages.target("broadcast-update")
    assert command[:2] == ["sh", "-c"]
    in_image = shlex.split(command[2].replace('"$PORT"', str(APP_PORT)))
    locally = function_command("broadcast_update", APP_PORT, "0.0.0.0")
    assert in_image[:2] == ["exec", "python3"] and Path(locally[0]).name.startswith("python")
    assert in_image[2:] == locally[1:]


def test_environment_names_are_settings_the_code_reads() -> None:
    service = knative_service("create-task")
    container = service["spec"]["template"]["spec"]["containers"][0]
    (config_map,) = load_documents(REPO_ROOT / "knative" / "config.yaml")
    names = set(config_map["data"]) | {env["name"] for env in container["env"]}
    assert names <= config_variables(), f"unknown settings: {names - config_variables()}"
    assert {"DATABASE_URL", "BROKER_URL", "CREATE_TASK_URL", "JWT_SECRET"} <= names


def wait_for_health(url: str, process: subprocess.Popen[str]) -> int | None:
    """The status of `url`/healthz once the service answers; None if it exited first."""
    answers: list[int] = []

    def answered_or_exited() -> bool:
        if process.poll() is not None:
            return True
        with contextlib.suppress(requests.RequestException):  # not listening yet, or importing
            answers.append(requests.get(f"{url}/healthz", timeout=10).status_code)
        return bool(answers)

    wait_until(answered_or_exited, what=f"{url}/healthz", timeout=START_TIMEOUT_SECONDS)
    return answers[0] if answers else None


DAPR_APP_TOKEN = "the-dapr-app-api-token-of-these-tests"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Every service started as its image starts it, on a migrated SQLite database and free
    ports: name -> base URL. Services that fail to start are missing from the map."""
    data_dir = tmp_path_factory.mktemp("services")
    environment = {
        "TASKFLOW_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'taskflow.db'}",
        "BROKER_URL": f"http://127.0.0.1:{free_port()}/taskflow",
        **SENDER_TEST_KEYS,
        "JWT_SECRET": secrets.token_urlsafe(32),
        # What daprd holds too (the chart's dapr.io/app-token-secret) and sends as dapr-api-token.
        "APP_API_TOKEN": DAPR_APP_TOKEN,
    }
    subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "python"),
            "-m",
            "taskflow.adapters.database",
            "upgrade",
        ],
        env=environment,
        check=True,
        capture_output=True,
    )
    processes: dict[str, tuple[str, subprocess.Popen[str]]] = {}
    for name in SERVICES:
        port = free_port()
        # Exactly what the image runs: its command and environment, on this checkout's paths,
        # but on free ports of this machine (PORT, and the metrics port the image sets).
        command, image_environment = dockerfile_stages.target(name)
        image_environment["PATH"] = image_environment["PATH"].replace("$PATH", "/usr/bin:/bin")
        metrics, metrics_at = metrics_env()
        process = subprocess.Popen(
            command,
            env={**image_environment, **environment, "PORT": str(port), **metrics},
            cwd=data_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        url = serves_metrics_at(known_as(f"http://127.0.0.1:{port}", name), metrics_at)
        processes[name] = (url, process)
    try:
        yield {
            name: url
            for name, (url, process) in processes.items()
            if wait_for_health(url, process) is not None
        }
    finally:
        for _, process in processes.values():
            process.terminate()
        for _, process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def post_event(url: str, event_type: str, data: str = "{}") -> requests.Response:
    headers = {
        "ce-specversion": "1.0",
        "ce-type": event_type,
        "ce-source": "tests/deploy",
        "ce-id": f"deploy-test-{time.monotonic_ns()}",
        "content-type": "application/json",
        # Signed as the broker: what is checked here is what lies behind the door.
        **headers_for(url),
    }
    return requests.post(url, data=data, headers=headers, timeout=10)


def error_field(answer: requests.Response) -> str | None:
    try:
        return answer.json()["error"].get("field")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


@pytest.mark.parametrize("name", SERVICES)
def test_service_answers_its_health_probe(name: str, running: dict[str, str]) -> None:
    """The probe the Knative Service declares succeeds against the running service."""
    assert name in running, f"{name} did not start"
    container = knative_service(name)["spec"]["template"]["spec"]["containers"][0]
    probe = container["readinessProbe"]
    if "httpGet" in probe:
        url = running[name] + probe["httpGet"]["path"]
        assert requests.get(url, timeout=5).status_code == 200
    else:
        host, port = running[name].removeprefix("http://").split(":")
        socket.create_connection((host, int(port)), timeout=5).close()


@pytest.mark.parametrize("timer", VALUES["timers"])
def test_timer_lands_on_a_route_that_accepts_a_ping(timer: str, running: dict[str, str]) -> None:
    """The PingSource's CloudEvent (what Knative sends on schedule) is accepted."""
    service, path = VALUES["timers"][timer]["service"], VALUES["timers"][timer]["path"]
    assert service in running, f"{service} did not start"
    answer = post_event(running[service] + path, "dev.knative.sources.ping")
    assert 200 <= answer.status_code < 300, f"{path}: {answer.status_code} {answer.text}"


def test_dapr_cron_binding_lands_on_the_relay(running: dict[str, str]) -> None:
    """daprd POSTs a plain JSON body to /<binding name> on schedule. With `direction: input`
    declared it skips its OPTIONS probe of the route (dapr 1.18 processor/binding/send.go), so
    the route needs to answer POST only."""
    (relay,) = load_documents(REPO_ROOT / "dapr" / "components" / "cluster" / "relay.yaml")
    metadata = {item["name"]: item["value"] for item in relay["spec"]["metadata"]}
    assert metadata["direction"] == "input"
    (app,) = relay["scopes"]
    assert app in running, f"{app} did not start"
    url = f"{running[app]}/{relay['metadata']['name']}"
    # daprd's only credential is the app API token; without it the timer door refuses.
    assert requests.post(url, json={}, timeout=30).status_code == 401
    answer = requests.post(url, json={}, headers={"dapr-api-token": DAPR_APP_TOKEN}, timeout=30)
    assert 200 <= answer.status_code < 300


@pytest.mark.parametrize("name", SERVICES)
def test_metrics_answer_on_the_metrics_port_only(name: str, running: dict[str, str]) -> None:
    """As its image runs it, a service answers GET /metrics 404 on the port of users and
    deliveries (issue 12, item 6) and serves its counters on the metrics port; a service the
    chart does not scrape (`metrics: false`) serves none at all."""
    assert name in running, f"{name} did not start"
    assert requests.get(f"{running[name]}/metrics", timeout=10).status_code == 404
    if SERVICES[name].get("metrics") is False:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{metrics_url(running[name])}/metrics", timeout=10)
        return
    probe = knative_service(name)["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    if "httpGet" in probe:
        # The health probes fixture start-up made are counted already.
        healthz = scrape(running[name])("taskflow_http_requests_total", route="/healthz")
        assert healthz >= 1
    else:
        assert (
            "taskflow_http_requests"
            in requests.get(f"{metrics_url(running[name])}/metrics", timeout=10).text
        )


@pytest.mark.parametrize("name", SERVICES)
def test_the_metrics_port_is_one_value_in_chart_image_and_annotation(name: str) -> None:
    """prometheus.io/port, the service's TASKFLOW_METRICS_PORT, the image's default and the
    chart value agree; it is no port the pod already uses, and not a declared container port
    (Knative Serving allows one: the serving port)."""
    template = knative_service(name)["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    container = template["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    port = int(VALUES["metrics"]["port"])
    _, image_env = dockerfile_stages.target(name)
    assert [item["containerPort"] for item in container["ports"]] == [APP_PORT]
    assert int(image_env["TASKFLOW_METRICS_PORT"]) == port
    assert image_env["TASKFLOW_METRICS_HOST"] == "0.0.0.0"
    assert port not in QUEUE_PROXY_PORTS | {APP_PORT, int(VALUES["dapr"]["metricsPort"])}
    if SERVICES[name].get("metrics") is False:
        assert "prometheus.io/port" not in annotations and "TASKFLOW_METRICS_PORT" not in env
        return
    assert int(annotations["prometheus.io/port"]) == port
    assert (env["TASKFLOW_METRICS_PORT"], env["TASKFLOW_METRICS_HOST"]) == (str(port), "0.0.0.0")


def test_a_dead_letter_is_counted_for_the_alert(running: dict[str, str]) -> None:
    """What the Kafka broker sends to the sink shows up in the metric the alert watches."""
    assert "dead-letter" in running, "dead-letter did not start"
    url = running["dead-letter"]
    headers = {
        "ce-specversion": "1.0",
        "ce-type": catalogue.TASK_CREATED,
        "ce-source": "taskflow/create-task",
        "ce-id": "dead-1",
        "ce-knativeerrordest": "http://write-audit.taskflow.svc.cluster.local/",
        "ce-knativeerrorcode": "500",
        "content-type": "application/json",
        **headers_for(url),
    }
    assert (
        requests.post(url, data='{"task_id": "t1"}', headers=headers, timeout=10).status_code == 202
    )
    metrics = requests.get(f"{metrics_url(url)}/metrics", timeout=10).text
    sample = re.search(
        r'^taskflow_dead_letters_total\{destination="http://write-audit[^"]*",'
        r'type="com\.taskflow\.task\.created"\} (\S+)$',
        metrics,
        re.M,
    )
    assert sample and float(sample.group(1)) == 1.0


def test_image_copies_only_what_exists_and_is_in_the_build_context() -> None:
    """Every COPY source of deploy/Dockerfile exists and .dockerignore lets it through."""
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text()
    allowed = [
        line[1:].rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    sources = re.findall(r"^COPY (?!--from)(\S+) \S+$", dockerfile, re.M)
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path"
        assert source.rstrip("/") in allowed, f"COPY {source}: excluded by .dockerignore"


@pytest.mark.parametrize(
    "checkout", ["/home/dev/app/taskflow", "/srv/app/my clone/app", "/tmp/opt/venv/app"]
)
def test_image_paths_map_once_onto_any_checkout(checkout: str) -> None:
    roots = {"/app": Path(checkout), "/opt/venv": Path(checkout) / ".venv"}
    mapped = dockerfile_stages.on_this_machine(
        "/opt/venv/bin:$PATH /app/functions/create_task/main.py /application", roots
    )
    assert mapped == (
        f"{checkout}/.venv/bin:$PATH {checkout}/functions/create_task/main.py /application"
    )
    script = dockerfile_stages.on_this_machine(
        "exec uvicorn --app-dir /app/functions", roots, shell=True
    )
    assert shlex.split(script) == ["exec", "uvicorn", "--app-dir", f"{checkout}/functions"]
