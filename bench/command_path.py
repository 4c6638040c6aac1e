"""The command path's cost (issue 10, item 5): what the API's Dapr sidecar adds to a create.

In a cluster the API reaches create-task through its own daprd, which invokes the HTTPEndpoint
`create-task-knative` (specs/deployment.md, "The command path"); with Dapr off the API calls the
URL directly. Knative cannot run here, but the Dapr hop can. Two web apps, started alike under
gunicorn as deploy/Dockerfile runs the API, share the product's create-task, database and
secrets and differ only in CREATE_TASK_URL:

  direct: create-task's local URL, as with `dapr.enabled=false`;
  dapr:   a daprd's `/v1.0/invoke/create-task-knative/method`, loaded with the chart's own
          HTTPEndpoint and Resiliency (dapr/components/cluster/), the endpoint's base URL
          rewritten to create-task's local URL.

One client sends creates (`POST /api/{user_id}/tasks`, signed-in users) one at a time, direct and
dapr alternating, so a shared machine's noise lands on both; p50/p95/p99 of each HTTP answer time
and the difference. A create that fails stops the run: no figure is reported over a path that
did not work. What only a cluster adds (queue-proxy, the activator, the cluster network) is not
in these figures.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from taskflow.config import SENDER_KEYS
from taskflow_dev.local.launch import (
    INHERITED_SETTINGS,
    RATE_LIMITS_OUT_OF_REACH,
    deployed_gunicorn,
    free_port,
    wait_until,
)

from bench import machine
from bench.context import Context
from bench.cost import DUE, REMINDER_AT
from bench.machine import REPO_ROOT
from bench.product import Product, User
from bench.report import Result
from bench.stats import summary

USERS = 10
WARM_UP = 10  # per path: first connections, first imports, daprd's first endpoint lookup
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
DAPRD = REPO_ROOT / ".cache" / "dapr" / "bin" / "daprd"
CLUSTER_RESOURCES = REPO_ROOT / "dapr" / "components" / "cluster"
ENDPOINT_FILE = "create-task-knative.yaml"
RESILIENCY_FILE = "taskflow-resiliency.yaml"
# The chart's app id of the API (its Knative Service name): the endpoint is scoped to it.
API_APP_ID = "api"
# daprd's ports (HTTP, gRPC, internal gRPC), consecutive from this one when set; free ones if not.
DAPR_PORTS_VARIABLE = "TASKFLOW_BENCH_DAPR_PORT"


class CreateFailed(RuntimeError):
    """A create answered other than 201: the path it took is broken, so nothing is reported."""


@dataclass
class Web:
    """One web app under gunicorn, with the CREATE_TASK_URL of one path."""

    name: str
    url: str


def run(context: Context) -> Result:
    samples = context.scaled(400, 150)
    if not DAPRD.exists():
        raise RuntimeError(f"no daprd at {DAPRD}: `scripts/dapr.sh build` makes it")
    # The product's secrets are chosen here so the two web apps started below share them.
    shared = {
        "JWT_SECRET": secrets.token_urlsafe(48),
        **{name: secrets.token_urlsafe(32) for name in SENDER_KEYS},
    }
    with context.product(shared) as product:
        create_task = product.url("create_task")
        with running_daprd(context.workdir, create_task, context.results_dir) as sidecar:
            env = web_env(product, context.workdir, shared)
            with (
                running_web("direct", create_task, env, context.workdir) as direct,
                running_web(
                    "dapr",
                    f"{sidecar}/v1.0/invoke/create-task-knative/method",
                    env,
                    context.workdir,
                ) as through_dapr,
            ):
                users = [product.sign_up() for _ in range(USERS)]
                load_before = machine.load_average()
                measured = alternate([direct, through_dapr], users, samples)
                load_after = machine.load_average()
    direct_ms, dapr_ms = measured["direct"], measured["dapr"]
    # Each dapr create beside the direct one sent next to it: the median of these differences
    # is the hop's cost with most of a shared machine's noise cancelled out.
    paired_ms = round(statistics.median(d - c for c, d in zip(direct_ms, dapr_ms, strict=True)), 2)
    figures = {name: summary(values) for name, values in measured.items()}
    rows = [
        {
            "path": name,
            **{key: figures[name][key] for key in ("count", "p50_ms", "p95_ms", "p99_ms")},
        }
        for name in ("direct", "dapr")
    ]
    rows.append(
        {
            "path": "dapr - direct",
            "count": None,
            **{
                key: round(figures["dapr"][key] - figures["direct"][key], 2)
                for key in ("p50_ms", "p95_ms", "p99_ms")
            },
        }
    )
    return Result(
        "command_path",
        context.backing,
        rows,
        samples={"direct create": direct_ms, "dapr create": dapr_ms},
        details={
            "samples_each": samples,
            "warm_up_each": WARM_UP,
            "load_average_before": load_before,
            "load_average_after_measuring": load_after,
            "dapr_version": dapr_version(),
            "dapr_resources": [
                f"dapr/components/cluster/{ENDPOINT_FILE}",
                f"dapr/components/cluster/{RESILIENCY_FILE}",
            ],
            "summaries": figures,
            "paired_median_difference_ms": paired_ms,
        },
        notes=[
            "create = HTTP answer time of POST /api/{user_id}/tasks (due + reminder), one "
            "client, direct and dapr alternating; both web apps under gunicorn (1 worker, "
            "8 threads), the same create-task",
            "dapr: CREATE_TASK_URL = daprd /v1.0/invoke/create-task-knative/method with the "
            "chart's HTTPEndpoint (base URL rewritten to create-task's local URL) and Resiliency",
            "not here: Knative's queue-proxy and activator, the cluster network",
            f"median of the paired differences (dapr - direct, same moment): {paired_ms} ms",
            f"load average before/after: {load_before} / {load_after}",
        ],
    )


def alternate(webs: list[Web], users: list[User], samples: int) -> dict[str, list[float]]:
    """Creates one at a time, the paths taking turns (and taking turns at going first)."""
    session = requests.Session()
    measured: dict[str, list[float]] = {web.name: [] for web in webs}
    for number in range(samples + WARM_UP):
        user = users[number % len(users)]
        body = {"title": f"path {number}", "due": DUE, "reminders": [{"at": REMINDER_AT}]}
        order = webs if number % 2 == 0 else webs[::-1]
        for web in order:
            started = time.perf_counter()
            answer = session.post(
                f"{web.url}/api/{user.user_id}/tasks", json=body, headers=user.headers, timeout=60
            )
            elapsed_ms = (time.perf_counter() - started) * 1000
            check_created(web.name, answer)
            if number >= WARM_UP:
                measured[web.name].append(elapsed_ms)
    return measured


def check_created(path: str, answer: requests.Response) -> None:
    if answer.status_code != 201:
        raise CreateFailed(
            f"a create over the {path} path answered {answer.status_code}: "
            f"{answer.text[:300]!r}; no figure is reported"
        )


def web_env(product: Product, workdir: Path, shared: dict[str, str]) -> dict[str, str]:
    """What the runner gives its children (taskflow_dev.local.child_env): the product's ports,
    database and secrets; CREATE_TASK_URL is added per web app."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in INHERITED_SETTINGS
        and not key.startswith("TASKFLOW_PORT_")
        and key != "TASKFLOW_METRICS_PORT"
    }
    return {
        **env,
        **RATE_LIMITS_OUT_OF_REACH,
        **shared,
        **{
            f"TASKFLOW_PORT_{name.upper()}": str(port) for name, port in vars(product.ports).items()
        },
        "DATABASE_URL": product.database_url,
        "TASKFLOW_DATA_DIR": str(workdir / "data"),
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.contextmanager
def running_web(
    name: str, create_task_url: str, env: dict[str, str], workdir: Path
) -> Iterator[Web]:
    """The API as deploy/Dockerfile runs it (gunicorn, 1 worker, 8 threads)."""
    port = free_port()
    command = deployed_gunicorn("taskflow.entrypoints.api:create_app()", port)
    log_path = workdir / f"web-{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env={**env, "CREATE_TASK_URL": create_task_url},
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # gunicorn forks its worker: stopped as a group
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the {name} web app exited:\n{_tail(log_path)}")
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{url}/healthz", timeout=2).ok
            return False

        wait_until(up, what=f"the {name} web app to serve", timeout=START_TIMEOUT_SECONDS)
        yield Web(name, url)
    finally:
        _stop_group(process)


@contextlib.contextmanager
def running_daprd(workdir: Path, create_task_url: str, results_dir: Path) -> Iterator[str]:
    """A daprd as the API's sidecar, with the chart's HTTPEndpoint and Resiliency only: its URL.
    It refuses to start unless daprd says it loaded both."""
    resources = workdir / "dapr-resources"
    resources.mkdir()
    endpoint = yaml.safe_load((CLUSTER_RESOURCES / ENDPOINT_FILE).read_text())
    endpoint["spec"]["baseUrl"] = create_task_url
    (resources / ENDPOINT_FILE).write_text(yaml.safe_dump(endpoint))
    resiliency_text = (CLUSTER_RESOURCES / RESILIENCY_FILE).read_text()
    resiliency = yaml.safe_load(resiliency_text)
    (resources / RESILIENCY_FILE).write_text(resiliency_text)
    first = os.environ.get(DAPR_PORTS_VARIABLE)
    http, grpc, internal = (
        [int(first) + offset for offset in range(3)] if first else [free_port() for _ in range(3)]
    )
    command = [
        str(DAPRD),
        "--app-id",
        API_APP_ID,
        "--resources-path",
        str(resources),
        "--dapr-http-port",
        str(http),
        "--dapr-grpc-port",
        str(grpc),
        "--dapr-internal-grpc-port",
        str(internal),
        "--dapr-listen-addresses",
        "127.0.0.1",
        # Metrics off, as scripts/dapr.sh runs it: the default port 9090 may be anyone's.
        "--enable-metrics=false",
        "--log-level",
        "info",
    ]
    log_path = workdir / "daprd.log"
    with log_path.open("wb") as log:
        # NAMESPACE: the resources carry the chart's namespace, which daprd matches against it.
        process = subprocess.Popen(
            command,
            env={**os.environ, "NAMESPACE": endpoint["metadata"].get("namespace", "")},
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{http}"
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"daprd exited:\n{_tail(log_path)}")
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{url}/v1.0/healthz", timeout=2).status_code == 204
            return False

        wait_until(healthy, what="daprd", timeout=START_TIMEOUT_SECONDS)
        log_text = log_path.read_text(errors="replace")
        # Without the chart's endpoint and policy the dapr figures would be of another path.
        for expected in (
            f"Found http endpoint: {endpoint['metadata']['name']}",
            f"Loading Resiliency configuration: {resiliency['metadata']['name']}",
        ):
            if expected not in log_text:
                raise RuntimeError(f"daprd never logged {expected!r}:\n{_tail(log_path)}")
        yield url
    finally:
        _stop_group(process)
        _keep(log_path, results_dir)


def dapr_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        output = subprocess.run(
            [str(DAPRD), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
        found = re.search(r"\d+\.\d+\.\d+", output)
        return found.group(0) if found else output.strip()
    return "unknown"


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _keep(log_path: Path, results_dir: Path) -> None:
    """daprd's log outlives the scratch folder, as the product's does (bench/__main__)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        shutil.copyfile(log_path, results_dir / f"command_path-{log_path.name}")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
