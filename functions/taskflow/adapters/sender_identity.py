"""Sender identity on the product's own doors (specs/eventing.md, "Sender identity").

Three doors take writes that no user token guards: a function's event door (the broker delivers),
create-task's `/commands` (the API, chat and MCP server send commands whose user_id is trusted)
and the broker ingress (the outbox relay publishes). Each accepts a request only with
`Authorization: Bearer <JWT>` whose audience names that door, the way Knative Eventing's
`authentication-oidc` does: an audience is `<group>/<kind>/<namespace>/<name>` in lower case
(knative/eventing pkg/auth/audience.go), e.g. `serving.knative.dev/service/taskflow/create-task`.

Locally and in containers each sender signs with a shared key of its own (HS256, config.py
SENDER_KEYS): the router its deliveries, the API its commands, the outbox relay its publishing.
In a cluster with `authentication-oidc` the Kafka broker puts a Kubernetes service-account token
on each delivery instead (RS256, signed by the cluster's issuer): a door also accepts those when
`oidc_issuer` and `oidc_jwks_url` are set, with the same audience check.

Tokens live `TOKEN_TTL_SECONDS`: short, because they are not bound to the request body (neither
are Knative's); a copied token replays only within that window, and every consumer is idempotent
by CloudEvent id.
"""

from __future__ import annotations

import functools
import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jwt
import urllib3

from taskflow.config import Settings

ALGORITHM = "HS256"
TOKEN_TTL_SECONDS = 60
# Reuse a signed token for half its life: signing per request would cost more than the check.
REUSE_SECONDS = TOKEN_TTL_SECONDS // 2
# Clock skew tolerated between sender and door (separate processes, containers, nodes).
LEEWAY_SECONDS = 10

# The issuers of the shared-key tokens: who signed.
ROUTER = "taskflow-router"  # deliveries: the router (the broker's stand-in) -> a function
API = "taskflow-api"  # commands: the API, chat and MCP server -> create-task
OUTBOX_RELAY = "taskflow-outbox-relay"  # publishing: the outbox relay -> the broker ingress

# Where a pod finds its own service-account token and the cluster's CA (to read the JWKS).
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
JWKS_CACHE_SECONDS = 300.0


class Unauthorized(Exception):
    """The request carries no credential this door accepts; the reason names what was wrong."""


class IssuerUnavailable(Exception):
    """The cluster issuer's keys could not be read: the sender should retry (503), not give up."""


class Credential(Protocol):
    def headers(self, audience: str) -> dict[str, str]: ...


def service_audience(namespace: str, service: str) -> str:
    """A Knative Service's audience (what a Trigger's `subscriber.audience` is set to)."""
    return f"serving.knative.dev/service/{namespace}/{service}".lower()


def broker_audience(namespace: str, broker: str) -> str:
    """A Broker's audience, as Knative announces it in the Broker's status.address.audience."""
    return f"eventing.knative.dev/broker/{namespace}/{broker}".lower()


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    return token.strip()


@dataclass
class Signer:
    """A sender holding a shared key: the Authorization header for a request to `audience`."""

    issuer: str
    key: str
    _tokens: dict[str, tuple[float, str]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def headers(self, audience: str) -> dict[str, str]:
        if not self.key:
            # Not a crash: the door would refuse anyway, and the refusal names the cause.
            return {}
        now = time.time()
        with self._lock:
            made, token = self._tokens.get(audience, (0.0, ""))
            if now - made > REUSE_SECONDS:
                claims = {
                    "iss": self.issuer,
                    "sub": self.issuer,
                    "aud": audience,
                    "iat": int(now),
                    "exp": int(now) + TOKEN_TTL_SECONDS,
                }
                token = jwt.encode(claims, self.key, algorithm=ALGORITHM)
                self._tokens[audience] = (now, token)
        return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class ProjectedTokens:
    """A sender in a cluster: the kubelet keeps one service-account token per broker in
    `directory` (a projected volume, file named as the broker, audience that broker's), which
    the Kafka broker's ingress verifies and its EventPolicy matches by subject."""

    directory: Path

    def headers(self, audience: str) -> dict[str, str]:
        path = self.directory / audience.rsplit("/", 1)[-1]
        try:
            token = path.read_text().strip()
        except OSError:
            return {}
        return {"Authorization": f"Bearer {token}"}


class ClusterIssuer:
    """Verifies Kubernetes service-account tokens (Knative's OIDC delivery tokens): the JWKS is
    read from the API server with the pod's own token and CA, cached, and read again when a
    token names a key it does not hold (the issuer rotated its keys)."""

    def __init__(self, issuer: str, jwks_url: str) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        headers: dict[str, str] = {}
        token_file = SERVICE_ACCOUNT_DIR / "token"
        if token_file.is_file():
            headers["Authorization"] = f"Bearer {token_file.read_text().strip()}"
        ca_file = SERVICE_ACCOUNT_DIR / "ca.crt"
        http = urllib3.PoolManager(ca_certs=str(ca_file) if ca_file.is_file() else None)
        try:
            answer = http.request("GET", self.jwks_url, headers=headers, timeout=5.0)
        except urllib3.exceptions.HTTPError as error:
            raise IssuerUnavailable(f"the issuer's keys are unreachable: {error}") from None
        if answer.status != 200:
            raise IssuerUnavailable(f"the issuer's keys could not be read ({answer.status})")
        key_set = jwt.PyJWKSet.from_dict(json.loads(answer.data))
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = time.monotonic()

    def _key(self, key_id: str) -> Any:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > JWKS_CACHE_SECONDS
            if stale or key_id not in self._keys:
                self._fetch()
            if key_id not in self._keys:
                raise Unauthorized("token signed by a key the issuer does not publish")
            return self._keys[key_id]

    def verify(self, token: str, audience: str, algorithm: str) -> dict[str, Any]:
        key_id = jwt.get_unverified_header(token).get("kid") or ""
        key = self._key(str(key_id))
        return jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=audience,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )


# Shared-key tokens a door has verified, until they expire: a sender reuses its token for
# REUSE_SECONDS, so a door sees the same one on hundreds of requests, and verifying it again
# (decode, HMAC, claims) would give the same answer until `exp` + leeway (issue 13: every hop
# of a command paid it). Keyed by the token and everything the check compared it with.
_VERIFIED_MAX = 1024
_verified: dict[tuple[str, str, str, str], tuple[float, dict[str, Any]]] = {}
_verified_lock = threading.Lock()


@dataclass(frozen=True)
class Door:
    """What one door accepts: tokens for `audience`, signed with `key` by `issuer`, or (in a
    cluster) signed by `cluster`'s issuer."""

    audience: str
    issuer: str
    key: str
    cluster: ClusterIssuer | None = None

    def remembered(self, headers: Mapping[str, str]) -> dict[str, Any] | None:
        """The claims of a shared-key token this door verified before and that has not expired;
        None otherwise. Never blocks: an event loop may ask before handing `check` to a thread."""
        try:
            token = bearer(_header(headers, "Authorization"))
        except Unauthorized:
            return None
        verified = _verified.get((token, self.audience, self.issuer, self.key))
        if verified is not None and time.time() <= verified[0]:
            return dict(verified[1])
        return None

    def check(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """The verified claims; raise Unauthorized otherwise."""
        remembered = self.remembered(headers)
        if remembered is not None:
            return remembered
        token = bearer(_header(headers, "Authorization"))
        verified_key = (token, self.audience, self.issuer, self.key)
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm == ALGORITHM:
                if not self.key:
                    raise Unauthorized("this door has no key configured: it accepts nobody")
                claims = jwt.decode(
                    token,
                    self.key,
                    algorithms=[ALGORITHM],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=LEEWAY_SECONDS,
                    options={"require": ["exp", "iss", "aud"]},
                )
                with _verified_lock:
                    if len(_verified) >= _VERIFIED_MAX:
                        _verified.clear()
                    _verified[verified_key] = (float(claims["exp"]) + LEEWAY_SECONDS, claims)
                return dict(claims)
            if self.cluster is not None and algorithm in ("RS256", "ES256"):
                return self.cluster.verify(token, self.audience, algorithm)
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        raise Unauthorized(f"token algorithm {algorithm!r} is not accepted here")


# The header daprd puts its app API token in (dapr pkg/security/consts APITokenHeader; set on
# every call of its HTTP app channel, job callbacks and input bindings included).
DAPR_APP_TOKEN_HEADER = "dapr-api-token"


@dataclass(frozen=True)
class TimerDoor:
    """A timer door (create-task's /relay, send-reminder's /sweep, /reminder-sweep and Dapr's
    /job/<name>): what the function's event door accepts (a ping the local timers sign with the
    delivery key; a PingSource's OIDC token in a cluster), or the app API token of the Dapr
    sidecar beside the process (its cron bindings and job callbacks carry nothing else)."""

    delivery: Door
    app_token: str

    def check(self, headers: Mapping[str, str]) -> dict[str, Any]:
        sent = _header(headers, DAPR_APP_TOKEN_HEADER)
        if sent is None:
            return self.delivery.check(headers)
        if not self.app_token:
            raise Unauthorized("no APP_API_TOKEN is configured: no Dapr sidecar may call here")
        if not hmac.compare_digest(sent.encode(), self.app_token.encode()):
            raise Unauthorized(f"{DAPR_APP_TOKEN_HEADER} does not match this app's APP_API_TOKEN")
        return {"iss": "dapr", "sub": "dapr"}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


# What each process of the product holds, from its settings.


@functools.cache
def _cluster_issuer(issuer: str, jwks_url: str) -> ClusterIssuer:
    return ClusterIssuer(issuer, jwks_url)


def _cluster(settings: Settings) -> ClusterIssuer | None:
    if not (settings.oidc_issuer and settings.oidc_jwks_url):
        return None
    return _cluster_issuer(settings.oidc_issuer, settings.oidc_jwks_url)


def delivery_door(settings: Settings, service: str) -> Door:
    """A function's event door: deliveries from the broker (the router locally)."""
    audience = service_audience(settings.namespace, service)
    return Door(audience, ROUTER, settings.delivery_key, _cluster(settings))


def timer_door(settings: Settings, service: str) -> TimerDoor:
    """A function's timer doors: the delivery door's senders, or its Dapr sidecar."""
    return TimerDoor(delivery_door(settings, service), settings.app_api_token)


def command_door(settings: Settings) -> Door:
    """create-task's `/commands`: commands from the API only (never a broker delivery)."""
    return Door(service_audience(settings.namespace, "create-task"), API, settings.command_key)


def ingress_door(settings: Settings, namespace: str, broker: str) -> Door:
    """The local router's ingress of one broker: what the outbox relay publishes."""
    return Door(broker_audience(namespace, broker), OUTBOX_RELAY, settings.publish_key)


def delivery_signer(settings: Settings) -> Signer:
    return Signer(ROUTER, settings.delivery_key)


def command_signer(settings: Settings) -> Signer:
    return Signer(API, settings.command_key)


def publish_credential(settings: Settings) -> Credential:
    if settings.publish_token_dir:
        return ProjectedTokens(Path(settings.publish_token_dir))
    return Signer(OUTBOX_RELAY, settings.publish_key)
