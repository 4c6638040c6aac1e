"""`just up --containers`: the product from its real images, one podman container per service as
the Helm chart runs it, with PostgreSQL and Kafka in containers. CD's smoke test passes against it,
and nothing but the page (and the MCP server) is reachable from the host: a forged command sent
to the published port changes no one's list, and no function container publishes a port."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests
from containers_product import podman_json
from taskflow.config import REPO_ROOT
from taskflow_dev.local.launch import LaunchedRunner

pytestmark = pytest.mark.containers

LIVE_TIMEOUT_MS = 15_000
ARTIFACTS = REPO_ROOT / "test-artifacts" / "containers"
FUNCTION_CONTAINERS = (
    "create-task",
    "spawn-recurrence",
    "send-reminder",
    "write-audit",
    "broadcast-update",
    "dead-letter",
)


def containers_of(runner: LaunchedRunner) -> dict[str, dict]:
    listed = podman_json("ps", "--filter", f"label=taskflow.up=taskflow-{runner.ports.web}")
    return {c["Names"][0].removeprefix(f"taskflow-{runner.ports.web}-"): c for c in listed}


def test_the_deploy_smoke_test_passes_against_the_containers(product: LaunchedRunner) -> None:
    smoke = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "deploy" / "smoke.sh"), product.url("web")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr + product.output()[-4000:]
    assert "the task's audit history arrived through the broker" in smoke.stdout


def test_every_service_runs_as_the_chart_says(product: LaunchedRunner) -> None:
    containers = containers_of(product)
    for name in (*FUNCTION_CONTAINERS, "api", "mcp", "router", "postgres", "kafka"):
        assert containers[name]["State"] == "running", name
    for name in (*FUNCTION_CONTAINERS, "api", "mcp"):
        (inspected,) = podman_json("inspect", containers[name]["Id"])
        assert inspected["Config"]["User"] == "10001", name
        assert inspected["HostConfig"]["ReadonlyRootfs"] is True, name
        assert inspected["Config"]["Image"].endswith(f"/{name}:dev"), name


def test_no_function_door_is_published_on_the_host(product: LaunchedRunner) -> None:
    containers = containers_of(product)
    published = {name: c.get("Ports") or [] for name, c in containers.items()}
    for name in (*FUNCTION_CONTAINERS, "router", "api", "postgres", "kafka"):
        assert published[name] == [], f"{name} publishes {published[name]}"
    assert [p["host_port"] for p in published["gateway"]] == [product.ports.web]
    assert [p["host_port"] for p in published["mcp"]] == [product.ports.mcp]


def test_a_forged_command_through_the_published_port_changes_nothing(
    product: LaunchedRunner,
) -> None:
    web = product.url("web")
    signup = requests.post(
        f"{web}/api/auth/signup",
        json={"email": "forged-target@taskflow.invalid", "password": "a-long-enough-password-1"},
        timeout=30,
    )
    assert signup.status_code == 201, signup.text
    user, token = signup.json()["user_id"], signup.json()["token"]
    forged_headers = {
        "ce-specversion": "1.0",
        "ce-id": "forged-1",
        "ce-source": "/o",
        "ce-type": "com.taskflow.command.task.create",
        "content-type": "application/json",
    }
    body = json.dumps({"user_id": user, "title": "FORGED"})
    # The event doors a cluster or `just up` would have: the function's root, the broker's
    # ingress, and broadcast-update's (its socket path is the only part that is routed here).
    for path in ("/", "/taskflow/task-events", "/socket.io/"):
        answer = requests.post(f"{web}{path}", data=body, headers=forged_headers, timeout=30)
        assert answer.status_code >= 400, f"POST {path} answered {answer.status_code}"
    tasks = requests.get(
        f"{web}/api/{user}/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert tasks.status_code == 200
    assert [task["title"] for task in tasks.json()["items"]] == []


@pytest.mark.browser
def test_the_page_goes_live_through_the_published_port(product: LaunchedRunner) -> None:
    """A person signs up in the page and sees "Live": the websocket reached broadcast-update
    through the gateway, the only published port."""
    from playwright.sync_api import expect, sync_playwright

    web = f"http://localhost:{product.ports.web}"
    assert requests.get(f"{web}/config.json", timeout=30).json()["socket_url"] == web
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(web)
            page.get_by_role("tab", name="Sign up").click()
            page.get_by_label("Email").fill("live-in-containers@taskflow.invalid")
            page.get_by_label("Password").fill("a-long-enough-password-1")
            page.get_by_role("button", name="Create account").click()
            page.locator("#workspace").wait_for(state="visible")
            expect(page.locator("#live-status")).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)
            page.screenshot(path=ARTIFACTS / "page-live.png")
        finally:
            browser.close()
