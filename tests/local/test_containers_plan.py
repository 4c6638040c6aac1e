"""The containers of `just up --containers` are generated from the Helm chart: what the chart gives
a service (environment, probes, user, read-only root) is what its container gets, with cluster
addresses turned into the containers' names. No podman needed: the plan is only computed."""

from __future__ import annotations

import pytest
from taskflow.config import Ports
from taskflow_dev.local import containers

SERVICES = ("api", "mcp", "create-task", "broadcast-update", "write-audit", "dead-letter")


@pytest.fixture(scope="module")
def plan() -> containers.Plan:
    return containers.make_plan(Ports(web=31480, mcp=31486), {"JWT_SECRET": "from-the-shell"})


def test_cluster_addresses_become_container_names() -> None:
    services = ["create-task", "broadcast-update"]
    here = containers.address_here
    assert here("http://create-task.taskflow.svc.cluster.local", services) == (
        "http://create-task:8080"
    )
    assert here(
        "http://kafka-broker-ingress.knative-eventing.svc.cluster.local/taskflow", services
    ) == ("http://router:8080/taskflow")
    assert here("http://example.org/x", services) == "http://example.org/x"
    with pytest.raises(containers.ContainersError, match="no container here stands for"):
        here("http://unknown.taskflow.svc.cluster.local", services)


def test_every_chart_service_runs_hardened_with_its_probes(plan: containers.Plan) -> None:
    by_name = {spec.name: spec for spec in plan.services}
    assert set(SERVICES) <= set(by_name)
    for spec in plan.services:
        assert spec.user == "10001"
        assert spec.read_only
        assert spec.cap_drop == ["ALL"]
        assert spec.no_new_privileges
        assert spec.memory.endswith("m")
        assert spec.readiness is not None and spec.liveness is not None
        assert spec.publish == [] or spec.name == "mcp"
    assert "/healthz" in " ".join(by_name["create-task"].readiness.command)  # type: ignore[union-attr]
    assert "create_connection" in " ".join(by_name["mcp"].readiness.command)  # type: ignore[union-attr]


def test_the_environment_comes_from_the_chart_with_local_addresses(plan: containers.Plan) -> None:
    api = next(spec for spec in plan.services if spec.name == "api")
    assert api.env["CREATE_TASK_URL"] == "http://create-task:8080"
    assert api.env["BROKER_URL"] == "http://router:8080/taskflow"
    assert api.env["BROADCAST_URL"] == "http://broadcast-update:8080"
    assert api.env["JWT_SECRET"] == "from-the-shell"
    assert api.env["DATABASE_URL"].startswith("postgresql+pg8000://taskflow:")
    assert "@postgres:5432/taskflow" in api.env["DATABASE_URL"]
    assert api.env["TASKFLOW_PUBLIC_SOCKET_URL"] == "http://localhost:31480"
    assert "TASKFLOW_SECRET_STORE" not in api.env  # no Dapr sidecars here


def test_only_the_gateway_and_mcp_are_published(plan: containers.Plan) -> None:
    published = {spec.name: spec.publish for spec in plan.long_running if spec.publish}
    assert published == {"gateway": [(31480, 8080)], "mcp": [(31486, 8080)]}


def test_a_secret_key_the_chart_adds_is_shared_by_every_container_that_names_it() -> None:
    values = containers.SecretValues("postgresql://x", {})
    assert values["TASKFLOW_DELIVERY_KEY"] == values["TASKFLOW_DELIVERY_KEY"] != ""
    assert values["OPENAI_API_KEY"] == ""
    assert containers.SecretValues("db", {"SOME_KEY": "given"})["SOME_KEY"] == "given"


def test_the_timers_sign_their_pings_with_the_key_the_functions_verify(
    plan: containers.Plan,
) -> None:
    """The timer doors refuse unsigned pings (specs/deployment.md "Timer doors"): the timers
    container holds the delivery key every function checks, and pings only services by the
    names the timers sign for (the URL's host)."""
    (timers,) = [spec for spec in plan.edge if spec.name == containers.TIMERS]
    by_name = {spec.name: spec for spec in plan.services}
    key = timers.env["TASKFLOW_DELIVERY_KEY"]
    assert key and key == by_name["create-task"].env["TASKFLOW_DELIVERY_KEY"]
    assert key == by_name["send-reminder"].env["TASKFLOW_DELIVERY_KEY"]
    urls = [argument.split("=", 2)[2] for argument in timers.command[3:]]
    assert {url.split("/")[2].split(":")[0] for url in urls} <= set(by_name)


def test_each_service_serves_metrics_on_the_metrics_port_only(plan: containers.Plan) -> None:
    """As the chart says: port 8080 for users and deliveries, 9095 for the scraper."""
    by_name = {spec.name: spec for spec in plan.services}
    assert by_name["create-task"].env["TASKFLOW_METRICS_PORT"] == "9095"
    assert by_name["create-task"].env["PORT"] == "8080"
    assert "TASKFLOW_METRICS_PORT" not in by_name["mcp"].env


def test_the_chat_model_settings_of_the_shell_reach_the_containers() -> None:
    """As `just up`'s processes inherit them: how tests/containers points the chat at its
    scripted model on the host. A setting not in the shell keeps the chart's value."""
    model = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": f"http://{containers.HOST_FROM_CONTAINERS}:12345/v1",
    }
    plan = containers.make_plan(Ports(web=31490, mcp=31496), model)
    by_name = {spec.name: spec for spec in plan.services}
    for name in ("api", "mcp"):
        assert {key: by_name[name].env[key] for key in model} == model
        assert by_name[name].env["OPENAI_MODEL"] == "gpt-4o-mini"  # the chart's
    router = next(spec for spec in plan.edge if spec.name == containers.ROUTER)
    assert "OPENAI_API_KEY" not in router.env and "OPENAI_BASE_URL" not in router.env


def test_rate_limits_of_the_shell_reach_every_service_container() -> None:
    """As under `just up`: how tests/containers runs the isolation checks with the limits out
    of reach. Without them in the shell, no container sets one, so each takes the default."""
    raised = {"TASKFLOW_RATE_LIMIT_CHAT": "1000/1", "TASKFLOW_RATE_LIMIT_MCP": "1000/1"}
    plan = containers.make_plan(Ports(web=31490, mcp=31496), raised)
    for spec in plan.services:
        assert {key: spec.env.get(key) for key in raised} == raised, spec.name
    plain = containers.make_plan(Ports(web=31490, mcp=31496), {})
    assert not any(
        key.startswith("TASKFLOW_RATE_LIMIT_") for spec in plain.services for key in spec.env
    )
