"""`python -m taskflow_dev.local [--port 8080]`: migrate, start the router, the five functions,
the MCP server and the web app, print where everything is, and keep it running until Ctrl-C or
SIGTERM.

Every port comes from config.Ports (TASKFLOW_PORT_<NAME> moves one); `--port` moves the web app.
A child that dies is restarted once; if it dies again the runner stops everything and exits 1,
because a product silently missing a function would only fill the dead-letter sink.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from types import FrameType

from sqlalchemy.engine import make_url
from taskflow.adapters import database, sender_identity
from taskflow.config import (
    FUNCTIONS,
    REPO_ROOT,
    SENDER_KEYS,
    Ports,
    Settings,
    load_settings,
    require_jwt_secret,
)
from taskflow.entrypoints import observability
from werkzeug.serving import BaseWSGIServer, make_server

from taskflow_dev.local import dapr
from taskflow_dev.local.processes import Child, ChildSpec, answers_http, function_command, stop_all
from taskflow_dev.local.timers import PingTimer, signed_for

log = logging.getLogger("taskflow.local")

HOST = "127.0.0.1"  # local only: nothing here is meant to be reachable from other machines
RELAY_PERIOD_SECONDS = 1.5
SWEEP_PERIOD_SECONDS = 5.0
START_TIMEOUT_SECONDS = 90.0
SUPERVISE_PERIOD_SECONDS = 0.5
MAX_RESTARTS = 1
# The signing secret `just up` made for itself, in the data folder.
JWT_SECRET_FILE = "jwt-secret"


def url(port: int) -> str:
    return f"http://{HOST}:{port}"


def child_specs(ports: Ports) -> list[ChildSpec]:
    router = ChildSpec(
        "router",
        [
            "env",
            f"TASKFLOW_METRICS_PORT={ports.router_metrics}",
            *(
                sys.executable,
                "-m",
                "taskflow_dev.router",
                "--host",
                HOST,
                "--port",
                str(ports.router),
            ),
        ],
        url(ports.router),
    )
    mcp = ChildSpec(
        "mcp",
        [
            sys.executable,
            "-m",
            "taskflow.entrypoints.mcp_server",
            "--http",
            "--host",
            HOST,
            "--port",
            str(ports.mcp),
        ],
        url(ports.mcp),
    )
    return [
        router,
        mcp,
        *(
            ChildSpec(
                name.replace("_", "-"),
                # Its metrics on a port of its own (Ports.<name>_metrics), as the images have.
                [
                    "env",
                    f"TASKFLOW_METRICS_PORT={getattr(ports, f'{name}_metrics')}",
                    *function_command(name, getattr(ports, name), HOST),
                ],
                url(getattr(ports, name)),
            )
            for name in FUNCTIONS
        ),
    ]


def with_local_jwt_secret(settings: Settings) -> Settings:
    """`just up` needs no setup, yet no secret may be published in the code: without JWT_SECRET
    it makes a random one under the data folder on its first run (readable by its owner only)
    and reuses it, so tokens outlive a restart. A JWT_SECRET that is set must be long enough."""
    if settings.jwt_secret:
        require_jwt_secret(settings.jwt_secret)
        return settings
    path = settings.data_dir / JWT_SECRET_FILE
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # an earlier run (or a second runner starting now) made it
    else:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        log.info("made a random JWT_SECRET in %s", path)
    return replace(settings, jwt_secret=require_jwt_secret(path.read_text().strip()))


def child_env(settings: Settings, ports: Ports, base: dict[str, str]) -> dict[str, str]:
    """The runner's environment plus every setting made explicit, so each child agrees on ports,
    the database and the broker even when the runner was given different ones."""
    return {
        **base,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": settings.database_url,
        "JWT_SECRET": settings.jwt_secret,
        "BROKER_URL": settings.broker_url,
        "CREATE_TASK_URL": settings.create_task_url,
        "BROADCAST_URL": settings.broadcast_url,
        "TASKFLOW_DATA_DIR": str(settings.data_dir),
        "TASKFLOW_EVENTING_DIR": str(settings.eventing_dir),
        "TASKFLOW_ROUTER_BACKING": settings.router_backing,
        "KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        **{f"TASKFLOW_PORT_{name.upper()}": str(port) for name, port in asdict(ports).items()},
        **{name: getattr(settings, field_name) for name, field_name in SENDER_KEYS.items()},
    }


SENDER_KEYS_FILE = "sender-keys.json"


def with_sender_keys(settings: Settings) -> Settings:
    """Each sender's key (config.SENDER_KEYS) that the environment does not give, from the data
    folder's sender-keys.json, made there (random, readable by its owner only) the first time,
    like the other local secrets: a fresh clone's doors are closed with keys nobody else has."""
    path = settings.data_dir / SENDER_KEYS_FILE
    stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    missing = {name: secrets.token_urlsafe(32) for name in SENDER_KEYS if not stored.get(name)}
    if missing:
        stored |= missing
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(stored, file)
    return replace(
        settings,
        **{
            field_name: getattr(settings, field_name) or stored[name]
            for name, field_name in SENDER_KEYS.items()
        },
    )


def start_web(settings: Settings, port: int) -> BaseWSGIServer:
    from taskflow.entrypoints.api import create_app  # late: imports the whole API

    server = make_server(HOST, port, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    # The web app counts in this process: its metrics port is this process's.
    observability.serve_metrics((HOST, settings.ports.web_metrics))
    return server


def wait_until_ready(children: Sequence[Child], web_url: str, stopping: threading.Event) -> bool:
    """True once every child and the web app answer HTTP; False if one exits or time runs out."""
    waiting = {child.name: child.spec.url for child in children} | {"web": web_url}
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while waiting:
        for child in children:
            code = child.exit_code()
            if code is not None:
                log.error("%s exited during start-up with code %s", child.name, code)
                return False
        waiting = {name: base for name, base in waiting.items() if not answers_http(base)}
        if time.monotonic() > deadline:
            log.error("not up after %.0f s: %s", START_TIMEOUT_SECONDS, ", ".join(waiting))
            return False
        if stopping.wait(0.2):
            return False
    return True


def supervise(children: Sequence[Child], stopping: threading.Event) -> int:
    """Restart a child that exits, once; stop everything (exit 1) when it exits again."""
    while not stopping.wait(SUPERVISE_PERIOD_SECONDS):
        for child in children:
            code = child.exit_code()
            if code is None:
                continue
            if child.restarts >= MAX_RESTARTS:
                log.error("%s exited again with code %s: stopping TaskFlow", child.name, code)
                return 1
            log.warning("%s exited with code %s: restarting it (once)", child.name, code)
            child.restart()
    return 0


def kafka_for_the_router(settings: Settings, environ: dict[str, str]) -> Settings:
    """`--kafka`: the router's events go to Kafka. KAFKA_BOOTSTRAP names a Kafka of one's own;
    otherwise scripts/kafka.sh starts the local one (or checks it runs) and it outlives `up`."""
    if "KAFKA_BOOTSTRAP" not in environ:
        script = str(REPO_ROOT / "scripts" / "kafka.sh")
        log.info("starting Kafka (scripts/kafka.sh start)")
        subprocess.run([script, "start"], check=True)
        exports = subprocess.run([script, "env"], check=True, capture_output=True, text=True)
        bootstrap = exports.stdout.strip().removeprefix("export KAFKA_BOOTSTRAP=")
        settings = replace(settings, kafka_bootstrap=bootstrap)
    return replace(settings, router_backing="kafka")


def print_table(settings: Settings, ports: Ports, timers: Sequence[PingTimer]) -> None:
    database_url = make_url(settings.database_url).render_as_string(hide_password=True)
    kafka = (
        [("router backing: Kafka", f"{settings.kafka_bootstrap} (scripts/kafka.sh stop)")]
        if settings.router_backing == "kafka"
        else []
    )
    rows = [
        ("web page + REST API", url(ports.web)),
        ("event router ingress", f"{settings.broker_url}/{{broker}}"),
        *kafka,
        ("dead letters", f"{url(ports.router)}/dead-letters"),
        *((name.replace("_", "-"), url(getattr(ports, name))) for name in FUNCTIONS),
        ("MCP server (streamable HTTP)", f"{url(ports.mcp)}/mcp"),
        (
            "Prometheus metrics (/metrics)",
            ", ".join(
                f"{name.replace('_', '-')} :{getattr(ports, f'{name}_metrics')}"
                for name in ("web", *FUNCTIONS, "router")
            ),
        ),
        ("database", database_url),
        ("data folder", str(settings.data_dir)),
        *(
            (f"timer {timer.name}", f"every {timer.period_seconds:g} s -> {timer.url}")
            for timer in timers
        ),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {where}" for name, where in rows]
    print(
        "\nTaskFlow is running: open "
        + url(ports.web)
        + "\n\n"
        + "\n".join(lines)
        + "\n\nPress Ctrl-C to stop.\n",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taskflow_dev.local", description=__doc__)
    parser.add_argument("--port", type=int, help="port of the web page and REST API")
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="back the event router with Kafka (KAFKA_BOOTSTRAP, else scripts/kafka.sh start)",
    )
    parser.add_argument(
        "--dapr",
        action="store_true",
        help="run every function and the web app behind its own daprd (implies --kafka and"
        " PostgreSQL; scripts/dapr.sh builds Dapr the first time)",
    )
    parser.add_argument(
        "--containers",
        action="store_true",
        help="run every service from the images of `just images` in podman containers, as the"
        " Helm chart runs them, with PostgreSQL and Kafka in containers too"
        " (taskflow_dev/local/containers.py)",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)17s | %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # keep the table readable

    settings = with_sender_keys(load_settings())
    ports = replace(settings.ports, web=arguments.port) if arguments.port else settings.ports
    if arguments.containers:
        if arguments.kafka or arguments.dapr:
            parser.error("--containers runs its own Kafka and no Dapr sidecars")
        from taskflow_dev.local import containers  # late: only this mode renders the chart

        return containers.main(ports)
    settings = with_local_jwt_secret(replace(settings, ports=ports))
    if arguments.kafka or arguments.dapr:
        settings = kafka_for_the_router(settings, dict(os.environ))
    dapr_plan = None
    if arguments.dapr:
        settings, dapr_plan = dapr.dapr_for_the_product(settings, dict(os.environ))
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    log.info("migrating the database")
    database.migrate(settings.database_url)
    env = child_env(settings, ports, dict(os.environ))
    specs = child_specs(ports)
    if dapr_plan is not None:
        env |= dapr_plan.env()
        specs = dapr.with_sidecars(specs, dapr_plan)
    children: list[Child] = []
    web: BaseWSGIServer | None = None
    # Signed like the router's deliveries: the timer doors take nothing unsigned.
    signer = sender_identity.delivery_signer(settings)
    timers = [
        PingTimer(
            "outbox-relay",
            f"{url(ports.create_task)}/relay",
            RELAY_PERIOD_SECONDS,
            stopping,
            signed_for(signer, settings.namespace, "create-task"),
        ),
        PingTimer(
            "reminder-sweep",
            f"{url(ports.send_reminder)}/sweep",
            SWEEP_PERIOD_SECONDS,
            stopping,
            signed_for(signer, settings.namespace, "send-reminder"),
        ),
    ]
    if dapr_plan is not None:
        timers = []  # the cron bindings relay.yaml and reminder-sweep.yaml do their work
    try:
        children = [Child(spec, env, REPO_ROOT) for spec in specs]
        web = start_web(settings, ports.web)
        if not wait_until_ready(children, url(ports.web), stopping):
            return 0 if stopping.is_set() else 1
        print_table(settings, ports, timers)
        for timer in timers:
            timer.start()
        return supervise(children, stopping)
    finally:
        stopping.set()
        if web is not None:
            web.shutdown()
        stop_all(children)
        log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
