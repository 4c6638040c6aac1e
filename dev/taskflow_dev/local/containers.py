"""`just up --containers`: the whole product from the images of `just images`, one podman container
per service, as the Helm chart runs it.

Every service container is generated from the chart (`helm template` of deploy/helm/taskflow with
dapr.enabled=false, since no sidecars run here): its image, its environment (the config map, and
the Secret keys it names), its port, its readiness and liveness probes, its user, capabilities
and read-only root filesystem, and its memory limit. Nothing of that is written a second time
here. What differs from a cluster:
- Cluster addresses (http://<service>.taskflow.svc.cluster.local, the Kafka broker's ingress) become
  the containers' names on a podman network of the run: http://<service>:8080, the router.
- The local event router (deploy/Dockerfile's `router` target) stands in for Knative's Kafka
  broker, with its events on Kafka. PostgreSQL and Kafka run in containers built here
  (infra/containers). The chart's migration Job runs once, as a container, before the services.
- A gateway container (taskflow_dev.local.gateway) is the ingress: with the MCP server's, the only
  published port. It serves the page and API, and /socket.io/ from broadcast-update, on one
  origin. No function's event door, nor the router's ingress, is published on the host.
- The PingSources and the relay timer run in a timers container (taskflow_dev.local.timers).

Names resolve through /etc/hosts entries (--add-host) on a network with fixed addresses: Debian's
podman 4.3 uses CNI here, whose bridge has no DNS without an extra plugin.

The chat model's settings (config.MODEL_SETTINGS: OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL)
set in this process's environment replace the chart's values, as they reach `just up`'s processes;
a model server of the host is reached as http://host.containers.internal:<port>. So do the rate
limits (config.RATE_LIMIT_DEFAULTS: TASKFLOW_RATE_LIMIT_CHAT and the others), which the chart
leaves at their defaults: a test harness raises them out of reach as it does for `just up`.

Secrets: DATABASE_URL points at the PostgreSQL container; any other key of the chart's Secret
(JWT_SECRET, OPENAI_API_KEY, and any key added later, such as a delivery-signing key shared by
the router and the functions) is taken from this process's environment when set there; else
OPENAI_API_KEY is empty and every other key gets a random value for this run, the same in every
container that names it (the router gets every such key too). The cluster's sender identity
(Knative's OIDC tokens) does not exist here: every container gets the shared sender keys of
config.SENDER_KEYS instead, as under `just up`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import secrets as random_secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

import yaml
from taskflow.config import MODEL_SETTINGS, RATE_LIMIT_DEFAULTS, REPO_ROOT, SENDER_KEYS, Ports

log = logging.getLogger("taskflow.containers")

PODMAN = str(REPO_ROOT / "scripts" / "podman.sh")
CHART = REPO_ROOT / "deploy" / "helm" / "taskflow"
VERSIONS = REPO_ROOT / "deploy" / "versions.env"
# No Dapr sidecars run here: the chart's own switch, so the API calls create-task directly.
CHART_SETTINGS = ("--set", "dapr.enabled=false")
CONTAINER_PORT = 8080  # every Knative container's port (the chart's containerPort)
ROUTER = "router"
# Settings of the cluster's sender identity (Knative's OIDC issuer, projected broker tokens).
CLUSTER_IDENTITY_SETTINGS = (
    "TASKFLOW_OIDC_ISSUER",
    "TASKFLOW_OIDC_JWKS_URL",
    "TASKFLOW_PUBLISH_TOKEN_DIR",
)
# podman's name of the host inside every container (its network's gateway): how a container
# reaches a server of the host, such as the tests' scripted model (the host's firewall permitting).
HOST_FROM_CONTAINERS = "host.containers.internal"
GATEWAY = "gateway"
TIMERS = "timers"
POSTGRES = "postgres"
KAFKA = "kafka"
BROKER_INGRESS = "kafka-broker-ingress"
CLUSTER_HOST = re.compile(r"^(?P<service>[a-z0-9-]+)\.[a-z0-9-]+\.svc\.cluster\.local$")
START_TIMEOUT_SECONDS = 300.0
SUPERVISE_PERIOD_SECONDS = 2.0
STOP_GRACE_SECONDS = 10


class ContainersError(RuntimeError):
    pass


@dataclass
class Probe:
    command: list[str]
    period_seconds: float = 10.0
    failure_threshold: int = 3


@dataclass
class ContainerSpec:
    """One container: what `podman run` is given."""

    name: str
    image: str
    env: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    user: str = ""
    read_only: bool = False
    cap_drop: list[str] = field(default_factory=list)
    no_new_privileges: bool = False
    memory: str = ""
    readiness: Probe | None = None
    liveness: Probe | None = None
    publish: list[tuple[int, int]] = field(default_factory=list)  # (host port, container port)


def podman(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([PODMAN, *arguments], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise ContainersError(f"podman {' '.join(arguments[:3])} failed: {result.stderr.strip()}")
    return result


# --- the chart -------------------------------------------------------------------------------


def helm() -> str:
    """$HELM, else the pinned helm that tests/deploy builds into .cache/tools/bin, else build it
    there the same way (go install of the version in deploy/versions.env)."""
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    pinned = dict(
        line.split("=", 1)
        for line in VERSIONS.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    version = pinned["HELM_VERSION"].strip()
    binary = REPO_ROOT / ".cache" / "tools" / "bin" / f"helm-{version}"
    if not binary.exists():
        log.info("building helm %s (go install, once)", version)
        build = REPO_ROOT / ".cache" / "tools" / "build" / "helm"
        subprocess.run(
            ["go", "install", "-trimpath", "-ldflags=-s -w", f"helm.sh/helm/v3/cmd/helm@{version}"],
            env={**os.environ, "GOBIN": str(build), "CGO_ENABLED": "0"},
            check=True,
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        (build / "helm").replace(binary)
    return str(binary)


def render_chart() -> list[dict[str, Any]]:
    command = [helm(), "template", "taskflow", str(CHART), "--namespace", "taskflow"]
    output = subprocess.run(
        [*command, *CHART_SETTINGS], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def of_kind(manifests: Sequence[dict[str, Any]], group: str, kind: str) -> list[dict[str, Any]]:
    return [
        doc for doc in manifests if doc["kind"] == kind and doc["apiVersion"].split("/")[0] == group
    ]


def config_maps(manifests: Sequence[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        doc["metadata"]["name"]: {k: str(v) for k, v in (doc.get("data") or {}).items()}
        for doc in of_kind(manifests, "v1", "ConfigMap")
    }


# --- addresses and settings here -------------------------------------------------------------


def address_here(value: str, services: Sequence[str]) -> str:
    """A cluster-local URL as a container on this network reaches the same thing:
    http://create-task.taskflow.svc.cluster.local -> http://create-task:8080, and the Kafka
    broker's ingress -> the router. Any other value is returned unchanged."""
    if not value.startswith(("http://", "https://")):
        return value
    parts = urlsplit(value)
    match = CLUSTER_HOST.match(parts.hostname or "")
    if match is None:
        return value
    service = match["service"]
    if service == BROKER_INGRESS:
        service = ROUTER
    elif service not in services:
        raise ContainersError(f"{value}: no container here stands for {service}")
    return f"http://{service}:{CONTAINER_PORT}{parts.path}"


class SecretValues:
    """The values of the chart's Secret keys for this run (see the module docstring)."""

    def __init__(self, database_url: str, environ: Mapping[str, str]) -> None:
        self.database_url = database_url
        self.environ = environ
        self.named: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        if key not in self.named:
            if key == "DATABASE_URL":
                value = self.database_url
            elif key in self.environ:
                value = self.environ[key]
            elif key == "OPENAI_API_KEY":
                value = ""  # the chat answers without a model, as with `just up`
            else:
                value = random_secrets.token_urlsafe(32)
            self.named[key] = value
        return self.named[key]


def probe_command(probe: dict[str, Any]) -> list[str]:
    """A Kubernetes probe as a command run inside the container: httpGet succeeds on 200-399
    as kubelet's does (urlopen raises on 4xx and 5xx), tcpSocket on a connection."""
    if "httpGet" in probe:
        port = probe["httpGet"].get("port", CONTAINER_PORT)
        url = f"http://127.0.0.1:{port}{probe['httpGet']['path']}"
        code = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=5)"
    elif "tcpSocket" in probe:
        port = probe["tcpSocket"]["port"]
        code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 5).close()"
    else:
        raise ContainersError(f"probe kind not supported here: {sorted(probe)}")
    return ["python", "-c", code]


def _probe(probe: dict[str, Any]) -> Probe:
    return Probe(
        probe_command(probe), probe.get("periodSeconds", 10), probe.get("failureThreshold", 3)
    )


def service_containers(
    manifests: Sequence[dict[str, Any]],
    secret_values: SecretValues,
    overrides: Mapping[str, str],
    model: Mapping[str, str],
    limits: Mapping[str, str],
) -> list[ContainerSpec]:
    """One ContainerSpec per Knative Service of the chart. `model`: the chat model's settings
    of this run (config.MODEL_SETTINGS), given to each container whose chart entry names them;
    `limits`: the rate limits set for this run (config.RATE_LIMIT_DEFAULTS), given to each."""
    maps = config_maps(manifests)
    knative = of_kind(manifests, "serving.knative.dev", "Service")
    names = [service["metadata"]["name"] for service in knative]
    specs = []
    for service in knative:
        name = service["metadata"]["name"]
        container = service["spec"]["template"]["spec"]["containers"][0]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            env |= maps[source["configMapRef"]["name"]]
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = str(variable["value"])
            else:
                env[variable["name"]] = secret_values[variable["valueFrom"]["secretKeyRef"]["key"]]
        # Sender identity as `just up` has it: the router is no Knative broker and issues no
        # OIDC tokens, so the cluster's issuer settings give way to the shared sender keys.
        env = {key: value for key, value in env.items() if key not in CLUSTER_IDENTITY_SETTINGS}
        env |= {name: secret_values[name] for name in SENDER_KEYS}
        env = {key: address_here(value, names) for key, value in env.items()}
        env |= {key: value for key, value in model.items() if key in env}
        env |= limits
        # What Knative sets in every revision's container, then this run's own settings.
        env |= {"PORT": str(container["ports"][0]["containerPort"]), "K_SERVICE": name}
        env |= overrides
        security = container.get("securityContext", {})
        specs.append(
            ContainerSpec(
                name=name,
                image=_local_image(container["image"]),
                env=env,
                user=str(security.get("runAsUser", "")),
                read_only=bool(security.get("readOnlyRootFilesystem")),
                cap_drop=list(security.get("capabilities", {}).get("drop", [])),
                no_new_privileges=security.get("allowPrivilegeEscalation") is False,
                memory=_memory(container.get("resources", {}).get("limits", {}).get("memory", "")),
                readiness=_probe(container["readinessProbe"]),
                liveness=_probe(container["livenessProbe"]),
            )
        )
    return specs


def migration_container(
    manifests: Sequence[dict[str, Any]], secret_values: SecretValues
) -> ContainerSpec:
    """The chart's migration Job (a Helm hook) as a one-shot container."""
    (job,) = of_kind(manifests, "batch", "Job")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {
        variable["name"]: secret_values[variable["valueFrom"]["secretKeyRef"]["key"]]
        for variable in container.get("env", [])
    }
    security = container.get("securityContext", {})
    return ContainerSpec(
        name="migrate",
        image=_local_image(container["image"]),
        env=env,
        command=list(container["command"]),
        user=str(pod.get("securityContext", {}).get("runAsUser", "")),
        cap_drop=list(security.get("capabilities", {}).get("drop", [])),
        no_new_privileges=security.get("allowPrivilegeEscalation") is False,
    )


def kafka_topics(manifests: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Topic -> partitions, from the chart's Strimzi KafkaTopics."""
    return {
        doc["spec"].get("topicName", doc["metadata"]["name"]): int(doc["spec"]["partitions"])
        for doc in of_kind(manifests, "kafka.strimzi.io", "KafkaTopic")
    }


def sink_here(sink: dict[str, Any]) -> str:
    """A PingSource's sink (a Knative Service ref and a path) as a URL on this network."""
    return f"http://{sink['ref']['name']}:{CONTAINER_PORT}{sink.get('uri', '/')}"


def _local_image(image: str) -> str:
    """podman names an image without a registry localhost/<name>."""
    first = image.split("/", 1)[0]
    return image if "." in first or ":" in first or first == "localhost" else f"localhost/{image}"


def _memory(quantity: str) -> str:
    """A Kubernetes memory quantity (512Mi) as podman's --memory (512m)."""
    for suffix, unit in (("Ki", "k"), ("Mi", "m"), ("Gi", "g")):
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + unit
    return quantity


# --- the plan --------------------------------------------------------------------------------


@dataclass
class Plan:
    """Every container of one `just up --containers`, in start order."""

    prefix: str
    infrastructure: list[ContainerSpec]
    migration: ContainerSpec
    services: list[ContainerSpec]
    edge: list[ContainerSpec]
    topics: dict[str, int]

    @property
    def long_running(self) -> list[ContainerSpec]:
        return [*self.infrastructure, *self.services, *self.edge]


def make_plan(ports: Ports, environ: Mapping[str, str]) -> Plan:
    from taskflow_dev.local.__main__ import RELAY_PERIOD_SECONDS, SWEEP_PERIOD_SECONDS
    from taskflow_dev.local.images import KAFKA_IMAGE, POSTGRES_IMAGE

    manifests = render_chart()
    password = random_secrets.token_urlsafe(16)
    secret_values = SecretValues(
        f"postgresql+pg8000://taskflow:{password}@{POSTGRES}:5432/taskflow", environ
    )
    # The page opens live sync on its own origin: the gateway routes /socket.io/.
    services = service_containers(
        manifests,
        secret_values,
        {"TASKFLOW_PUBLIC_SOCKET_URL": f"http://localhost:{ports.web}"},
        {key: environ[key] for key in MODEL_SETTINGS if key in environ},
        {key: environ[key] for key in RATE_LIMIT_DEFAULTS if key in environ},
    )
    by_name = {spec.name: spec for spec in services}
    api = by_name["api"]
    by_name["mcp"].publish = [(ports.mcp, CONTAINER_PORT)]
    # The router and the edge containers: deploy/Dockerfile's images, hardened as the API is.
    hardened: dict[str, Any] = {
        "user": api.user,
        "read_only": api.read_only,
        "cap_drop": api.cap_drop,
        "no_new_privileges": api.no_new_privileges,
    }
    tcp = Probe(probe_command({"tcpSocket": {"port": CONTAINER_PORT}}), 5, 3)
    subscribers = [f"--subscriber={name}=http://{name}:{CONTAINER_PORT}" for name in by_name]
    router = ContainerSpec(
        ROUTER,
        api.image.replace("/api:", f"/{ROUTER}:"),
        # The Secret keys the chart names but the database's and the model's (a delivery-signing
        # key, when there is one, is among them).
        env={
            key: value
            for key, value in secret_values.named.items()
            if key not in ("DATABASE_URL", "OPENAI_API_KEY")
        }
        | {
            "OTEL_EXPORTER_OTLP_ENDPOINT": api.env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
            "TASKFLOW_ROUTER_BACKING": "kafka",
            "KAFKA_BOOTSTRAP": f"{KAFKA}:9092",
            "K_SERVICE": ROUTER,
        },
        command=[
            "python",
            "-m",
            "taskflow_dev.router",
            "--host",
            "0.0.0.0",
            "--port",
            str(CONTAINER_PORT),
            "--backing",
            "kafka",
            *subscribers,
        ],
        readiness=tcp,
        liveness=tcp,
        **hardened,
    )
    # The gateway and the timers are development stand-ins too (taskflow_dev), which only the
    # router's image ships.
    gateway = ContainerSpec(
        GATEWAY,
        router.image,
        command=[
            "python",
            "-m",
            "taskflow_dev.local.gateway",
            "--port",
            str(CONTAINER_PORT),
            f"--default=api:{CONTAINER_PORT}",
            f"--route=/socket.io/=broadcast-update:{CONTAINER_PORT}",
        ],
        readiness=tcp,
        liveness=tcp,
        publish=[(ports.web, CONTAINER_PORT)],
        **hardened,
    )
    pings = [
        f"{ping['metadata']['name']}={SWEEP_PERIOD_SECONDS}={sink_here(ping['spec']['sink'])}"
        for ping in of_kind(manifests, "sources.knative.dev", "PingSource")
    ]
    timers = ContainerSpec(
        TIMERS,
        router.image,
        # The timer doors take a ping signed like a delivery, for the service its URL names.
        {"TASKFLOW_DELIVERY_KEY": secret_values["TASKFLOW_DELIVERY_KEY"]},
        command=[
            "python",
            "-m",
            "taskflow_dev.local.timers",
            f"outbox-relay={RELAY_PERIOD_SECONDS}=http://create-task:{CONTAINER_PORT}/relay",
            *pings,
        ],
        **hardened,
    )
    postgres = ContainerSpec(
        POSTGRES,
        POSTGRES_IMAGE,
        {"POSTGRES_USER": "taskflow", "POSTGRES_PASSWORD": password, "POSTGRES_DB": "taskflow"},
        readiness=Probe(["pg_isready", "-q", "-h", "/tmp", "-d", "taskflow", "-U", "taskflow"]),
    )
    postgres.liveness = postgres.readiness
    kafka = ContainerSpec(
        KAFKA, KAFKA_IMAGE, readiness=Probe(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9092"])
    )
    kafka.liveness = kafka.readiness
    return Plan(
        prefix=f"taskflow-{ports.web}",
        infrastructure=[postgres, kafka],
        migration=migration_container(manifests, secret_values),
        services=services,
        edge=[router, gateway, timers],
        topics=kafka_topics(manifests),
    )


# --- running ---------------------------------------------------------------------------------


class Network:
    """A podman network of the run with a fixed address per container, so every container's
    /etc/hosts names all the others."""

    def __init__(self, name: str, label: str, names: Sequence[str]) -> None:
        self.name = name
        podman("network", "create", "--label", label, name)
        (config,) = json.loads(podman("network", "inspect", name).stdout)
        hosts: Iterator[Any] = _subnet(config).hosts()
        next(hosts)  # the bridge's own address
        self.addresses = {container: str(next(hosts)) for container in names}

    def run_arguments(self, name: str) -> list[str]:
        others = [
            f"--add-host={other}:{ip}" for other, ip in self.addresses.items() if other != name
        ]
        return [f"--network={self.name}", f"--ip={self.addresses[name]}", *others]


def _subnet(config: dict[str, Any]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The subnet of `podman network inspect` (netavark's and CNI's layouts differ)."""
    for subnet in config.get("subnets", []):
        return ipaddress.ip_network(subnet["subnet"])
    for plugin in config.get("plugins", []):
        for ranges in plugin.get("ipam", {}).get("ranges", []):
            return ipaddress.ip_network(ranges[0]["subnet"])
    raise ContainersError(f"no subnet in the network's configuration: {config}")


class Runner:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.label = f"taskflow.up={plan.prefix}"
        self.stopping = threading.Event()
        self.restarts: dict[str, int] = {}
        self._logs: list[subprocess.Popen[bytes]] = []
        self.network: Network | None = None

    def container(self, spec: ContainerSpec) -> str:
        return f"{self.plan.prefix}-{spec.name}"

    def remove_all(self) -> None:
        """Every container and the network of this run (or of an earlier one on the same ports
        that was killed before it could clean up)."""
        listed = podman("ps", "-aq", "--filter", f"label={self.label}", check=False).stdout.split()
        if listed:
            podman("rm", "-f", "-t", str(STOP_GRACE_SECONDS), *listed, check=False)
        podman("network", "rm", "-f", self.plan.prefix, check=False)

    def run(self, spec: ContainerSpec, *, detach: bool = True) -> None:
        assert self.network is not None
        arguments = [
            "run",
            f"--name={self.container(spec)}",
            f"--label={self.label}",
            f"--hostname={spec.name}",
            *self.network.run_arguments(spec.name),
            *(f"--env={key}={value}" for key, value in spec.env.items()),
        ]
        if spec.user:
            arguments.append(f"--user={spec.user}")
        if spec.read_only:
            # /tmp, /var/tmp and /run stay writable tmpfs (podman's --read-only-tmpfs), as the
            # chart's emptyDir on /tmp.
            arguments.append("--read-only")
        arguments += [f"--cap-drop={capability}" for capability in spec.cap_drop]
        if spec.no_new_privileges:
            arguments.append("--security-opt=no-new-privileges")
        if spec.memory:
            arguments.append(f"--memory={spec.memory}")
        arguments += [f"--publish=127.0.0.1:{host}:{inside}" for host, inside in spec.publish]
        arguments += ["--detach"] if detach else ["--rm"]
        result = podman(*arguments, spec.image, *spec.command, check=False)
        if result.returncode != 0:
            raise ContainersError(
                f"{spec.name} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        if detach and spec.name != KAFKA:  # Kafka's INFO lines would drown the product's
            self._follow_logs(spec)

    def _follow_logs(self, spec: ContainerSpec) -> None:
        process = subprocess.Popen(
            [PODMAN, "logs", "--follow", self.container(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        threading.Thread(
            target=_prefix_lines, args=(spec.name, process.stdout), daemon=True
        ).start()
        self._logs.append(process)

    def passes(self, spec: ContainerSpec, probe: Probe | None) -> bool:
        """Run a probe inside the container, as kubelet runs one against the pod."""
        if probe is None:
            return self.state(spec) == "running"
        return podman("exec", self.container(spec), *probe.command, check=False).returncode == 0

    def state(self, spec: ContainerSpec) -> str:
        result = podman(
            "inspect", "--format", "{{.State.Status}}", self.container(spec), check=False
        )
        return result.stdout.strip() if result.returncode == 0 else "missing"

    def wait_ready(self, specs: Sequence[ContainerSpec]) -> None:
        waiting = list(specs)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while waiting:
            for spec in list(waiting):
                state = self.state(spec)
                if state not in ("running", "created", "configured"):
                    # As kubelet restarts a pod that exits while starting (the router gives up
                    # when Kafka does not answer in time on a loaded machine): once, as later.
                    if self.restarts.get(spec.name, 0) >= 1:
                        raise ContainersError(f"{spec.name} is {state} during start-up")
                    log.warning("%s is %s during start-up: restarting it (once)", spec.name, state)
                    self.restarts[spec.name] = 1
                    podman("restart", "-t", str(STOP_GRACE_SECONDS), self.container(spec))
                    continue
                if self.passes(spec, spec.readiness):
                    waiting.remove(spec)
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(spec.name for spec in waiting)
                raise ContainersError(f"not ready after {START_TIMEOUT_SECONDS:.0f} s: {names}")
            if self.stopping.wait(0.5):
                raise ContainersError("stopped during start-up")

    def create_topics(self) -> None:
        """The chart's KafkaTopics (Strimzi's work in a cluster), made with Kafka's own tool."""
        kafka = f"{self.plan.prefix}-{KAFKA}"
        for topic, partitions in self.plan.topics.items():
            podman(
                "exec", kafka, "java", "-Xmx256m", "-XX:TieredStopAtLevel=1",
                "-cp", "/opt/kafka/lib/*", "org.apache.kafka.tools.TopicCommand",
                "--bootstrap-server", "127.0.0.1:9092", "--create", "--if-not-exists",
                "--topic", topic, "--partitions", str(partitions), "--replication-factor", "1",
            )  # fmt: skip

    def start(self) -> None:
        plan = self.plan
        self.remove_all()
        names = [spec.name for spec in plan.long_running] + [plan.migration.name]
        self.network = Network(plan.prefix, self.label, names)
        log.info("starting PostgreSQL and Kafka")
        for spec in plan.infrastructure:
            self.run(spec)
        self.wait_ready(plan.infrastructure)
        self.create_topics()
        log.info("migrating the database (the chart's migration Job)")
        self.run(plan.migration, detach=False)
        later = [*plan.services, *plan.edge]
        log.info("starting %s", ", ".join(spec.name for spec in later))
        for spec in later:
            self.run(spec)
        self.wait_ready(later)

    def supervise(self) -> int:
        """Restart a container that exits, or fails its liveness probe failure_threshold times in
        a row, once; stop everything (exit 1) when that happens to it again."""
        failures: dict[str, int] = {}
        probed_at: dict[str, float] = {}
        while not self.stopping.wait(SUPERVISE_PERIOD_SECONDS):
            for spec in self.plan.long_running:
                if self.stopping.is_set():
                    return 0
                state = self.state(spec)
                alive = state == "running"
                probe, now = spec.liveness, time.monotonic()
                if alive and probe and now - probed_at.get(spec.name, 0.0) >= probe.period_seconds:
                    probed_at[spec.name] = now
                    passed = self.passes(spec, probe)
                    failures[spec.name] = 0 if passed else failures.get(spec.name, 0) + 1
                    alive = failures[spec.name] < probe.failure_threshold
                if alive:
                    continue
                if self.restarts.get(spec.name, 0) >= 1:
                    log.error("%s failed again (%s): stopping TaskFlow", spec.name, state)
                    return 1
                log.warning("%s failed (%s): restarting it (once)", spec.name, state)
                self.restarts[spec.name] = 1
                failures[spec.name] = 0
                podman("restart", "-t", str(STOP_GRACE_SECONDS), self.container(spec), check=False)
        return 0

    def stop(self) -> None:
        self.stopping.set()
        self.remove_all()
        for process in self._logs:
            if process.poll() is None:
                process.terminate()


def _prefix_lines(name: str, stream: IO[bytes]) -> None:
    for line in stream:
        sys.stdout.write(f"{name:>17} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def print_table(plan: Plan, ports: Ports) -> None:
    rows = [
        ("web page + REST API", f"http://127.0.0.1:{ports.web} (container {GATEWAY})"),
        ("MCP server (streamable HTTP)", f"http://127.0.0.1:{ports.mcp}/mcp"),
        ("containers", ", ".join(spec.name for spec in plan.long_running)),
        ("not published", "the functions, the router, PostgreSQL, Kafka"),
        ("logs", f"scripts/podman.sh logs {plan.prefix}-<name>"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {where}" for name, where in rows]
    print(
        f"\nTaskFlow is running in containers: open http://127.0.0.1:{ports.web}\n\n"
        + "\n".join(lines)
        + "\n\nPress Ctrl-C to stop.\n",
        flush=True,
    )


def main(ports: Ports) -> int:
    """Run until Ctrl-C or SIGTERM; every container started is stopped and removed on the way
    out, and so is the network. The images are built first when they are not up to date."""
    from taskflow_dev.local import images

    try:
        images.build_all()
    except subprocess.CalledProcessError as error:
        log.error("%s failed:\n%s%s", " ".join(error.cmd), error.stdout or "", error.stderr or "")
        return 1
    runner = Runner(make_plan(ports, dict(os.environ)))

    def stop(signum: int, _frame: object) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        runner.stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        runner.start()
        print_table(runner.plan, ports)
        return runner.supervise()
    except ContainersError as error:
        if runner.stopping.is_set():
            return 0
        log.error("%s", error)
        return 1
    finally:
        runner.stop()
        log.info("stopped and removed every container")
