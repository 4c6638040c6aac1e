"""`just up --dapr`: the web app and every function behind its own daprd, with the local Dapr
resources of dapr/components/local (specs/infrastructure.md).

What changes under Dapr: secrets come through the `local-secrets` store (a JSON file written
here unless TASKFLOW_SECRETS_FILE names one), chat history lives in the `statestore` (PostgreSQL),
the web app sends commands to create-task through its sidecar (service invocation), reminders are
Dapr jobs, and the reminder sweep and the outbox relay come from the cron bindings instead of the
runner's timers. Dapr's components need Kafka (kafka-pubsub, which the router then uses too) and
PostgreSQL (the state store): both are started through their scripts and outlive `up`, as does
the Dapr scheduler (scripts/dapr.sh stop).
"""

from __future__ import annotations

import json
import logging
import os
import secrets as random_secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from taskflow.config import FUNCTIONS, REPO_ROOT, SENDER_KEYS, Ports, Settings

from taskflow_dev.local.processes import ChildSpec

log = logging.getLogger("taskflow.local")

SCRIPTS = REPO_ROOT / "scripts"
WEB_APP_ID = "api"  # the web app's Dapr app id, as in a cluster
LOCAL_DATABASE = "taskflow"  # created on the PostgreSQL of scripts/postgres.sh
# Sidecar ports: base+1.. (HTTP), base+21.. (gRPC), base+41.. (internal gRPC), one per app, so
# base+1 to base+PORT_SPAN hold them all. The default base keeps them below Linux's ephemeral
# range, which outgoing connections take.
PORT_BASE_ENV = "TASKFLOW_DAPR_PORT_BASE"
DEFAULT_PORT_BASE = 3500
PORTS_PER_KIND = 20
PORT_SPAN = 3 * PORTS_PER_KIND


@dataclass(frozen=True)
class Sidecar:
    app_id: str
    app_port: int
    http_port: int
    grpc_port: int
    internal_grpc_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@dataclass(frozen=True)
class DaprPlan:
    sidecars: tuple[Sidecar, ...]
    secrets_file: Path
    # Made fresh for each run: daprd sends it to its app (dapr-api-token), and the timer doors
    # open to nothing else from a sidecar (specs/deployment.md "Timer doors").
    app_api_token: str = field(default_factory=lambda: random_secrets.token_urlsafe(32))

    def sidecar_of(self, app_id: str) -> Sidecar | None:
        return next((car for car in self.sidecars if car.app_id == app_id), None)

    def env(self) -> dict[str, str]:
        """For daprd and the apps: where the local secret store's file is, and the app API
        token (APP_API_TOKEN, which daprd reads as the app does)."""
        return {
            "TASKFLOW_SECRETS_FILE": str(self.secrets_file),
            "APP_API_TOKEN": self.app_api_token,
        }


def sidecars(ports: Ports, base: int) -> tuple[Sidecar, ...]:
    apps = [(WEB_APP_ID, ports.web), *((n.replace("_", "-"), getattr(ports, n)) for n in FUNCTIONS)]
    return tuple(
        Sidecar(
            app_id,
            app_port,
            *(base + 1 + kind * PORTS_PER_KIND + index for kind in range(3)),
        )
        for index, (app_id, app_port) in enumerate(apps)
    )


def dapr_for_the_product(settings: Settings, environ: dict[str, str]) -> tuple[Settings, DaprPlan]:
    """Start the scheduler (building Dapr the first time), make sure the database is PostgreSQL,
    write the secrets, and point the web app at its sidecar."""
    log.info("starting the Dapr scheduler (scripts/dapr.sh start-scheduler; builds Dapr once)")
    subprocess.run([str(SCRIPTS / "dapr.sh"), "start-scheduler"], check=True)
    if settings.is_sqlite:
        settings = replace(settings, database_url=local_postgres_database())
    plan = DaprPlan(
        sidecars(settings.ports, int(environ.get(PORT_BASE_ENV) or DEFAULT_PORT_BASE)),
        Path(environ.get("TASKFLOW_SECRETS_FILE") or write_secrets(settings)),
    )
    for car in plan.sidecars:
        log.info("daprd of %s (app port %s): %s", car.app_id, car.app_port, car.url)
    web = plan.sidecar_of(WEB_APP_ID)
    assert web is not None
    settings = replace(
        settings,
        dapr_http_port=str(web.http_port),
        create_task_url=f"{web.url}/v1.0/invoke/create-task/method",
    )
    return settings, plan


def local_postgres_database() -> str:
    """The database `taskflow` on the cluster of scripts/postgres.sh (started if needed)."""
    script = str(SCRIPTS / "postgres.sh")
    log.info("starting PostgreSQL for Dapr's state store (scripts/postgres.sh start)")
    subprocess.run([script, "start"], check=True)
    exports = subprocess.run([script, "env"], check=True, capture_output=True, text=True)
    admin_url = make_url(exports.stdout.strip().split("=", 1)[1])
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": LOCAL_DATABASE}
            ).first()
            if exists is None:
                connection.exec_driver_sql(f'CREATE DATABASE "{LOCAL_DATABASE}"')
    finally:
        admin.dispose()
    return admin_url.set(database=LOCAL_DATABASE).render_as_string(hide_password=False)


def write_secrets(settings: Settings) -> Path:
    """The local secret store's file, in the data folder, readable by its owner only."""
    libpq_url = make_url(settings.database_url).set(drivername="postgresql")
    secrets = {
        "DATABASE_URL": settings.database_url,
        "JWT_SECRET": settings.jwt_secret,
        "POSTGRES_CONNECTION_STRING": libpq_url.render_as_string(hide_password=False),
        **{name: getattr(settings, field_name) for name, field_name in SENDER_KEYS.items()},
    }
    if settings.openai_api_key:
        secrets["OPENAI_API_KEY"] = settings.openai_api_key
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "dapr-secrets.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(secrets, file)
    return path


def with_sidecars(specs: Sequence[ChildSpec], plan: DaprPlan) -> list[ChildSpec]:
    """Each function learns its sidecar's ports (DAPR_HTTP_PORT, as daprd's injector sets it in
    a cluster), and each app, the web app included, gets a daprd child of its own."""
    behind_dapr = [
        replace(
            spec,
            argv=[
                "env",
                f"DAPR_HTTP_PORT={car.http_port}",
                f"DAPR_GRPC_PORT={car.grpc_port}",
                *spec.argv,
            ],
        )
        if (car := plan.sidecar_of(spec.name))
        else spec
        for spec in specs
    ]
    daprds = [
        ChildSpec(
            f"{car.app_id}-daprd",
            [
                str(SCRIPTS / "dapr.sh"),
                "daprd",
                "--app-id",
                car.app_id,
                "--app-port",
                str(car.app_port),
                "--dapr-http-port",
                str(car.http_port),
                "--dapr-grpc-port",
                str(car.grpc_port),
                "--dapr-internal-grpc-port",
                str(car.internal_grpc_port),
                "--log-level",
                "warn",
            ],
            car.url,
        )
        for car in plan.sidecars
    ]
    return behind_dapr + daprds
