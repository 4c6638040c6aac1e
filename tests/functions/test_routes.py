"""What every function answers besides its events: the probe Kubernetes and the local runner
use, and a clear 404 for a path it does not serve."""

from __future__ import annotations

import pytest
import requests

FUNCTIONS = ["create_task", "spawn_recurrence", "send_reminder", "write_audit", "broadcast_update"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_answers_its_health_probe_and_names_unknown_paths(
    start_function, stateless_env, name
):
    base_url = start_function(name, stateless_env)

    health = requests.get(f"{base_url}/healthz", timeout=10)
    unknown = requests.post(f"{base_url}/nowhere", data=b"{}", timeout=10)

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"reason": "no route for POST /nowhere", "field": "path"}
