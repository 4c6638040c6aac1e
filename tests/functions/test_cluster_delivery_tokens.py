"""In a cluster the Kafka broker puts a Kubernetes service-account token on each delivery
(Knative's `authentication-oidc`), issued for the Trigger's subscriber.audience and signed by the
cluster's issuer (RS256, keys at /openid/v1/jwks). A function given that issuer accepts such a
token for its own audience only. The issuer here is a local HTTP server publishing a key made for
the test, as the API server publishes its service-account keys."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests
from cloudevents.conversion import to_binary
from cryptography.hazmat.primitives.asymmetric import rsa
from function_events import a_task, task_event
from sender_keys import NAMESPACE
from taskflow import catalogue
from taskflow.adapters import sender_identity

ISSUER = "https://kubernetes.default.svc.cluster.local"
KEY_ID = "cluster-key-1"
# The identity Knative gives a Trigger (knative/eventing pkg/auth/serviceaccount.go).
TRIGGER_SUBJECT = (
    "system:serviceaccount:taskflow:write-audit-task-events-oidc-eventing.knative.dev-trigger"
)


class Issuer:
    """Publishes one RSA public key as a JWKS, like the API server's /openid/v1/jwks."""

    def __init__(self) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        body = json.dumps({"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]})

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.jwks_url = f"http://127.0.0.1:{self._server.server_address[1]}/openid/v1/jwks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def token(self, audience: str, *, issuer: str = ISSUER) -> str:
        now = int(time.time())
        claims = {"iss": issuer, "sub": TRIGGER_SUBJECT, "aud": [audience]}
        claims |= {"iat": now, "exp": now + 600}
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": KEY_ID})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    started = Issuer()
    yield started
    started.close()


def test_a_function_accepts_the_clusters_token_for_its_own_audience_only(
    start_function, function_env, issuer: Issuer
) -> None:
    url = start_function(
        "write_audit",
        {**function_env, "TASKFLOW_OIDC_ISSUER": ISSUER, "TASKFLOW_OIDC_JWKS_URL": issuer.jwks_url},
    )
    write_audit = sender_identity.service_audience(NAMESPACE, "write-audit")
    create_task = sender_identity.service_audience(NAMESPACE, "create-task")

    def deliver(token: str) -> int:
        headers, body = to_binary(task_event(catalogue.TASK_CREATED, a_task("alice", 7)))
        headers["Authorization"] = f"Bearer {token}"
        return requests.post(url, data=body, headers=headers, timeout=10).status_code

    assert deliver(issuer.token(write_audit)) == 202
    assert deliver(issuer.token(create_task)) == 401
    assert deliver(issuer.token(write_audit, issuer="https://someone.else")) == 401
    # A key nobody published: a token the attacker signed with a key of their own.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"iss": ISSUER, "sub": TRIGGER_SUBJECT, "aud": write_audit, "exp": time.time() + 600},
        other,
        algorithm="RS256",
        headers={"kid": KEY_ID},
    )
    assert deliver(forged) == 401
