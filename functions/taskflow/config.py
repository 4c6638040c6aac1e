"""The one home of configuration: every setting, its environment variable and its default.

Embedded defaults run the whole product on one machine with no keys: SQLite under ./data, the
in-process event router on localhost. Production sets the variables (Knative env / Dapr secrets).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from taskflow.adapters import secrets

REPO_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _rate_limit(name: str) -> RateLimit:
    return RateLimit.parse(_env(name, RATE_LIMIT_DEFAULTS[name]))


def secret_store_name() -> str:
    """The Dapr secret store a process beside a sidecar reads its secrets from (adapters/
    secrets.py, which settings depend on): `local-secrets` locally (dapr/components/local),
    `kubernetes` in a cluster (set by the chart's config map)."""
    return _env("TASKFLOW_SECRET_STORE", "local-secrets")


def secret_name() -> str:
    """The one secret of that store holding every key (`taskflow-secrets` in a cluster, where
    the pods may `get` only that Secret); empty: every secret of the store (adapters/secrets.py)."""
    return _env("TASKFLOW_SECRET_NAME", "")


def _secret(name: str, default: str = "") -> str:
    return secrets.get(name, default, store=secret_store_name(), secret_name=secret_name())


# The five functions: each is the folder functions/<name>/, its functions-framework target and
# its field in Ports; its Knative Service name is the kebab-case form (create-task).
FUNCTIONS = ("create_task", "spawn_recurrence", "send_reminder", "write_audit", "broadcast_update")


@dataclass(frozen=True)
class Ports:
    """Local ports of `just up`; in a cluster every function listens on PORT (8080)."""

    web: int = 8080
    router: int = 8090
    create_task: int = 8101
    spawn_recurrence: int = 8102
    send_reminder: int = 8103
    write_audit: int = 8104
    broadcast_update: int = 8105
    mcp: int = 8106  # the MCP server's streamable HTTP transport (issue 3)
    # Each process's Prometheus metrics, on a port of its own: never on the public ones above
    # (issue 12, item 6). The runner hands each one to its process as TASKFLOW_METRICS_PORT.
    web_metrics: int = 9180
    create_task_metrics: int = 9181
    spawn_recurrence_metrics: int = 9182
    send_reminder_metrics: int = 9183
    write_audit_metrics: int = 9184
    broadcast_update_metrics: int = 9185
    router_metrics: int = 9190

    @classmethod
    def from_env(cls) -> Ports:
        """Each port may be moved by TASKFLOW_PORT_<NAME> (e.g. TASKFLOW_PORT_ROUTER), so tests
        and a second `just up` can run the whole product on free ports."""
        return cls(
            **{
                name: int(_env(f"TASKFLOW_PORT_{name.upper()}", str(default)))
                for name, default in asdict(cls()).items()
            }
        )


def metrics_address() -> tuple[str, int] | None:
    """Where this process serves its Prometheus metrics, apart from the port that serves
    users and deliveries (issue 12, item 6): TASKFLOW_METRICS_PORT (the images and the chart
    set 9095, its `metrics.port`; the local runner one port per process from Ports) on
    TASKFLOW_METRICS_HOST (127.0.0.1 unless set; the images listen on 0.0.0.0 for the pod's
    scraper). Unset or 0: nowhere. Read from the environment alone, like PORT: a gunicorn worker
    reads it as it forks, before any setting that may need a secret store."""
    text = _env("TASKFLOW_METRICS_PORT", "").strip()
    try:
        port = int(text or "0")
    except ValueError:
        raise ValueError(f"TASKFLOW_METRICS_PORT must be a port number; got {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"TASKFLOW_METRICS_PORT must be a port number; got {text!r}")
    if port == 0:
        return None
    return _env("TASKFLOW_METRICS_HOST", "127.0.0.1"), port


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` per `per_seconds` for one user, as a token bucket: a burst of
    `requests` at once, refilled evenly over `per_seconds` (specs/rate-limits.md)."""

    requests: int
    per_seconds: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`"600/60"`: 600 requests per 60 seconds."""
        try:
            requests, seconds = text.split("/")
            limit: RateLimit | None = cls(int(requests), float(seconds))
        except ValueError:
            limit = None
        if limit is None or limit.requests < 1 or limit.per_seconds <= 0:
            raise ValueError(f"a rate limit is REQUESTS/SECONDS, both positive; got {text!r}")
        return limit


# An address range whose proxies' X-Forwarded-For entries are believed (client_address.py).
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def parse_networks(text: str) -> tuple[Network, ...]:
    """`"127.0.0.0/8,10.0.0.0/8"`: comma-separated CIDR ranges."""
    try:
        return tuple(ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise ValueError(
            f"TASKFLOW_TRUSTED_PROXIES holds CIDR ranges such as 10.0.0.0/8: {error}"
        ) from None


# Where the local router keeps accepted events (specs/eventing.md): a SQLite file in the data
# folder, or the Kafka topics of the brokers.
ROUTER_BACKINGS = ("sqlite", "kafka")


def _router_backing(text: str) -> str:
    if text not in ROUTER_BACKINGS:
        raise ValueError(
            f"TASKFLOW_ROUTER_BACKING must be one of {', '.join(ROUTER_BACKINGS)}; got {text!r}"
        )
    return text


# HS256 keys shorter than the hash (32 bytes) are guessable offline from one token (RFC 7518 3.2).
JWT_SECRET_MIN_BYTES = 32


class InsecureConfiguration(RuntimeError):
    """A setting that would make the product unsafe to run: the process refuses to start."""


def require_jwt_secret(secret: str) -> str:
    """`secret` when it may sign tokens; otherwise refuse to start, saying what to do."""
    if len(secret.encode()) < JWT_SECRET_MIN_BYTES:
        state = "is not set" if not secret else f"is shorter than {JWT_SECRET_MIN_BYTES} bytes"
        raise InsecureConfiguration(
            f"JWT_SECRET {state}: refusing to start, since anyone could sign tokens. Set it"
            f" (environment, secret store or TASKFLOW_SECRETS_FILE) to at least"
            f" {JWT_SECRET_MIN_BYTES} random bytes, e.g. the output of"
            " `python -c 'import secrets; print(secrets.token_urlsafe(48))'`;"
            " `just up` makes one under its data folder by itself."
        )
    return secret


def _positive_seconds(name: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{name} must be a positive number of seconds; got {text!r}")
    return seconds


# The chat model's settings (Settings.openai_*), by variable name. `just up`'s processes inherit
# them from the developer's shell; `just up --containers` hands the ones set there to every
# container whose chart entry names them (taskflow_dev.local.containers), e.g. to point the chat
# at the tests' scripted OpenAI-compatible server.
MODEL_SETTINGS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")
# Each limit's variable and its default, "requests/seconds" (specs/rate-limits.md).
RATE_LIMIT_DEFAULTS = {
    "TASKFLOW_RATE_LIMIT_API": "600/60",
    "TASKFLOW_RATE_LIMIT_CHAT": "20/60",
    "TASKFLOW_RATE_LIMIT_AUTH_EMAIL": "10/300",
    "TASKFLOW_RATE_LIMIT_AUTH_CLIENT": "200/3600",
    "TASKFLOW_RATE_LIMIT_MCP": "300/60",
}

# Each sender's shared key (adapters/sender_identity.py): its variable or secret name, and its
# Settings field.
SENDER_KEYS = {
    "TASKFLOW_DELIVERY_KEY": "delivery_key",
    "TASKFLOW_COMMAND_KEY": "command_key",
    "TASKFLOW_PUBLISH_KEY": "publish_key",
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    create_task_url: str
    broadcast_url: str
    jwt_secret: str
    jwt_issuer: str
    jwt_ttl_seconds: int
    openai_api_key: str
    openai_base_url: str
    openai_model: str
    eventing_dir: Path
    ports: Ports = field(default_factory=Ports)
    # Where browsers reach live sync when it is not the page's host at ports.broadcast_update
    # (an ingress in a cluster); empty locally.
    public_socket_url: str = ""
    # Set by a Dapr sidecar beside the process: chat history then lives in this state store.
    dapr_http_port: str = ""
    dapr_state_store: str = "statestore"
    # Per-user limits of the web app (REST API and chat); each web worker keeps its own buckets.
    api_rate_limit: RateLimit = RateLimit(600, 60)
    chat_rate_limit: RateLimit = RateLimit(20, 60)
    # Sign-up and login attempts naming one email, and from one client address (the guard
    # against password guessing and mass sign-up), and the MCP server's requests per user.
    auth_email_rate_limit: RateLimit = RateLimit(10, 300)
    auth_client_rate_limit: RateLimit = RateLimit(200, 3600)
    mcp_rate_limit: RateLimit = RateLimit(300, 60)
    # Proxies in front of the web app (a cluster's ingress, activator and queue-proxy): the
    # client address is the first one, from the right of X-Forwarded-For, outside these ranges.
    trusted_proxies: tuple[Network, ...] = LOOPBACK
    # OTLP/HTTP collector that receives the services' spans (e.g. http://otel-collector:4318);
    # empty: no export, only trace ids travel (specs/observability.md).
    otlp_endpoint: str = ""
    router_backing: str = "sqlite"
    # Reminder webhooks may reach loopback, private and link-local addresses: only for a developer
    # delivering to a local server, never in production (adapters/webhook.py, issue 12 item 3).
    webhook_allow_local: bool = False
    # A live-sync socket (broadcast-update) that has not joined its user's room this long after
    # its websocket opened is closed: unauthenticated sockets cannot pile up (specs/functions.md).
    socket_auth_timeout_seconds: float = 5.0
    # scripts/kafka.sh's broker; each Trigger's consumer group is the prefix + its name.
    kafka_bootstrap: str = "127.0.0.1:29092"
    kafka_group_prefix: str = "taskflow-trigger-"
    # Sender identity on the internal doors (adapters/sender_identity.py, specs/eventing.md):
    # one shared key per sender. The router signs its deliveries to the functions with the
    # delivery key, the API (REST, chat, MCP) its commands to create-task with the command key,
    # the outbox relay what it publishes to the broker ingress with the publish key. Empty: the
    # sender cannot sign and the door refuses everything (`just up` writes keys into the data
    # folder; a cluster or container takes them from the secret).
    delivery_key: str = ""
    command_key: str = ""
    publish_key: str = ""
    # The namespace in every audience (Knative's <group>/<kind>/<namespace>/<name>).
    namespace: str = "taskflow"
    # In a cluster with Knative's `authentication-oidc`: the Kubernetes service-account issuer
    # whose tokens the broker puts on deliveries, and where its signing keys are published
    # (https://kubernetes.default.svc/openid/v1/jwks). Empty: only the shared keys are accepted.
    oidc_issuer: str = ""
    oidc_jwks_url: str = ""
    # In a cluster: a folder of projected service-account tokens, one file per broker (named as
    # the broker), which the outbox relay presents to the Kafka broker's ingress instead of a
    # token signed with the publish key. Empty: sign with the publish key.
    publish_token_dir: str = ""
    # Dapr's app API token (its own variable, APP_API_TOKEN): daprd sends it as the
    # `dapr-api-token` header on every call to the app (cron bindings, job callbacks), so the
    # timer doors accept a call carrying it (adapters/sender_identity.py TimerDoor). Empty: no
    # Dapr sidecar may call them; a token is required (specs/deployment.md "Timer doors").
    app_api_token: str = ""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings() -> Settings:
    """Read settings from the environment; call at start-up, never at import time."""
    ports = Ports.from_env()
    data_dir = Path(_env("TASKFLOW_DATA_DIR", str(REPO_ROOT / "data")))
    return Settings(
        data_dir=data_dir,
        database_url=_secret("DATABASE_URL", f"sqlite:///{data_dir / 'taskflow.db'}"),
        # The broker ingress is /{namespace}/{broker}, as on Knative; publishers append the topic.
        broker_url=_env("BROKER_URL", f"http://127.0.0.1:{ports.router}/taskflow"),
        create_task_url=_env("CREATE_TASK_URL", f"http://127.0.0.1:{ports.create_task}"),
        broadcast_url=_env("BROADCAST_URL", f"http://127.0.0.1:{ports.broadcast_update}"),
        # No default: one published in the code would let anyone sign tokens (issue 12, item 2).
        # Whoever signs or checks tokens calls require_jwt_secret at start-up; `just up` makes a
        # random one under the data folder (taskflow_dev.local).
        jwt_secret=_secret("JWT_SECRET", ""),
        jwt_issuer=_env("JWT_ISSUER", "taskflow"),
        jwt_ttl_seconds=int(_env("JWT_TTL_SECONDS", str(7 * 24 * 3600))),
        openai_api_key=_secret("OPENAI_API_KEY", ""),
        openai_base_url=_env("OPENAI_BASE_URL", ""),
        openai_model=_env("OPENAI_MODEL", "gpt-4o-mini"),
        eventing_dir=Path(_env("TASKFLOW_EVENTING_DIR", str(REPO_ROOT / "eventing"))),
        ports=ports,
        public_socket_url=_env("TASKFLOW_PUBLIC_SOCKET_URL", ""),
        dapr_http_port=_env("DAPR_HTTP_PORT", ""),
        dapr_state_store=_env("TASKFLOW_STATE_STORE", "statestore"),
        api_rate_limit=_rate_limit("TASKFLOW_RATE_LIMIT_API"),
        chat_rate_limit=_rate_limit("TASKFLOW_RATE_LIMIT_CHAT"),
        auth_email_rate_limit=_rate_limit("TASKFLOW_RATE_LIMIT_AUTH_EMAIL"),
        auth_client_rate_limit=_rate_limit("TASKFLOW_RATE_LIMIT_AUTH_CLIENT"),
        mcp_rate_limit=_rate_limit("TASKFLOW_RATE_LIMIT_MCP"),
        trusted_proxies=parse_networks(_env("TASKFLOW_TRUSTED_PROXIES", "127.0.0.0/8,::1/128")),
        otlp_endpoint=_env("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        router_backing=_router_backing(_env("TASKFLOW_ROUTER_BACKING", "sqlite")),
        socket_auth_timeout_seconds=_positive_seconds(
            "TASKFLOW_SOCKET_AUTH_TIMEOUT_SECONDS",
            _env("TASKFLOW_SOCKET_AUTH_TIMEOUT_SECONDS", "5"),
        ),
        kafka_bootstrap=_env("KAFKA_BOOTSTRAP", "127.0.0.1:29092"),
        kafka_group_prefix=_env("TASKFLOW_KAFKA_GROUP_PREFIX", "taskflow-trigger-"),
        webhook_allow_local=_flag("TASKFLOW_WEBHOOK_ALLOW_LOCAL"),
        **{field_name: _secret(name, "") for name, field_name in SENDER_KEYS.items()},
        namespace=_env("TASKFLOW_NAMESPACE", "taskflow"),
        oidc_issuer=_env("TASKFLOW_OIDC_ISSUER", ""),
        oidc_jwks_url=_env("TASKFLOW_OIDC_JWKS_URL", ""),
        publish_token_dir=_env("TASKFLOW_PUBLISH_TOKEN_DIR", ""),
        app_api_token=_env("APP_API_TOKEN", ""),
    )


def _flag(name: str) -> bool:
    """An explicit yes (1, true, yes, on); anything else, or unset, is no."""
    return _env(name, "").strip().lower() in {"1", "true", "yes", "on"}
