"""Secret lookup, so no secret is ever hard-coded or logged.

Beside a Dapr sidecar (DAPR_HTTP_PORT set) secrets come from the Dapr secret store named by
TASKFLOW_SECRET_STORE, which config.py reads and passes in as `store` (`local-secrets`,
secretstores.local.file of dapr/components/local, by default; `kubernetes` in a cluster).
Otherwise, or for a key the store does not hold: the environment, then the local secrets file
(the same JSON file the local Dapr store reads).

The store is read once per process. With TASKFLOW_SECRET_NAME set (the chart sets
`taskflow-secrets`), one secret of that name is read (`GET /v1.0/secrets/<store>/<name>`): the
Kubernetes store then makes one `get` of that Secret, which a Role limited to that name allows.
Otherwise (the local file store, one secret per key) the bulk API reads them all; on Kubernetes
that would `list` every Secret of the namespace, a right the pods are not given.

One GET on localhost: urllib3 (which every function has loaded anyway), not requests, whose
import alone cost each function's cold start about 4 MiB (specs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from taskflow.adapters import dapr_sidecar

SECRETS_FILE_ENV = "TASKFLOW_SECRETS_FILE"
_TIMEOUT_SECONDS = 10.0


@cache
def _file_secrets() -> dict[str, str]:
    path = os.environ.get(SECRETS_FILE_ENV)
    if not path or not Path(path).is_file():
        return {}
    return {str(k): str(v) for k, v in json.loads(Path(path).read_text()).items()}


@cache
def _dapr_secrets(store: str, name: str) -> dict[str, str]:
    """Every key of every secret the sidecar's store lets this app read; {} without Dapr."""
    base_url = dapr_sidecar.sidecar_from_env()
    if base_url is None:
        return {}
    dapr_sidecar.wait_until_ready(base_url)
    path = name or "bulk"
    answer = dapr_sidecar.get(f"{base_url}/v1.0/secrets/{store}/{path}", timeout=_TIMEOUT_SECONDS)
    if answer.status != 200:
        # The body names the store and the reason; it never holds a secret value.
        raise dapr_sidecar.SidecarUnavailable(
            f"reading the Dapr secret store {store!r} failed: {answer.status} "
            f"{answer.data[:200].decode(errors='replace')}"
        )
    secrets = json.loads(answer.data)
    if name:
        # One secret: its keys and values.
        return {str(key): str(value) for key, value in secrets.items()}
    return {str(key): str(value) for secret in secrets.values() for key, value in secret.items()}


def get(name: str, default: str = "", *, store: str, secret_name: str = "") -> str:
    """The secret `name`. `store` and `secret_name` come from config.py (the one home of
    settings), which calls this: this module reads no setting itself, so the two never import
    each other."""
    return (
        _dapr_secrets(store, secret_name).get(name)
        or os.environ.get(name)
        or _file_secrets().get(name)
        or default
    )
