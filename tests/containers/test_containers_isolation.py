"""The reliability harness's isolation checks (tests/reliability/test_isolation_doors.py), run
against `just up --containers`: Bob, through every door the host can reach (REST and the audit
history, Socket.IO through the gateway, MCP), never sees or changes anything of Alice's. The
checks are imported, not copied, so the two runs cannot drift apart. The chat door is left out:
it needs the scripted OpenAI server, which the containers do not reach."""

from __future__ import annotations

import pytest
from taskflow_dev.local.launch import LaunchedRunner
from test_isolation_doors import (
    alice,
    bob,
    secret,
    test_live_sync_never_carries_alices_events_to_bob,
    test_mcp_tools_act_only_for_the_tokens_user,
    test_rest_and_audit_history_answer_bob_as_if_alices_task_did_not_exist,
)

pytestmark = pytest.mark.containers

__all__ = [
    "alice",
    "bob",
    "secret",
    "test_live_sync_never_carries_alices_events_to_bob",
    "test_mcp_tools_act_only_for_the_tokens_user",
    "test_rest_and_audit_history_answer_bob_as_if_alices_task_did_not_exist",
]


class PublishedDoors:
    """The containers' published doors under the names the reliability checks use: the
    gateway is the page, the API and broadcast-update's `/socket.io/` on one origin (as the
    ingress is in a cluster); the MCP server has its own port."""

    def __init__(self, runner: LaunchedRunner) -> None:
        self.runner = runner

    @property
    def web(self) -> str:
        return self.runner.url("web")

    def url(self, port_name: str) -> str:
        published = {"web": "web", "broadcast_update": "web", "mcp": "mcp"}
        return self.runner.url(published[port_name])


@pytest.fixture(scope="module")
def product(product: LaunchedRunner) -> PublishedDoors:
    return PublishedDoors(product)
