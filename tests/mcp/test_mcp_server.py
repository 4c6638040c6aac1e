"""The MCP server as an MCP client sees it, over both transports, against a real create-task:
the tools of the design with their return shapes, and the acting user taken from the
authentication, never from the arguments."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from api_helpers import Account
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from taskflow.chat.tools import TOOL_NAMES
from taskflow.config import REPO_ROOT, Settings
from taskflow_dev.local.launch import free_port, wait_until
from taskflow_dev.local.processes import answers_http

START_TIMEOUT_SECONDS = 30


def _server_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "CREATE_TASK_URL": settings.create_task_url,
        "JWT_SECRET": settings.jwt_secret,
        **extra,
    }


@contextlib.contextmanager
def _http_server(settings: Settings, log_dir: Path, **extra_env: str) -> Iterator[str]:
    """The MCP server's streamable HTTP transport as its own process; yields its /mcp URL."""
    port = free_port()
    log_path = log_dir / "mcp-http.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taskflow.entrypoints.mcp_server",
                "--http",
                "--port",
                str(port),
            ],
            env=_server_env(settings, **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    try:

        def listening() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the MCP server exited:\n{log_path.read_text()}")
            return answers_http(f"http://127.0.0.1:{port}")

        wait_until(listening, what="the MCP server's HTTP port", timeout=START_TIMEOUT_SECONDS)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def mcp_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _http_server(settings, tmp_path_factory.mktemp("mcp")) as url:
        yield url


def _http_client(url: str, token: str) -> Client:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    return Client(streamable_http_client(url, http_client=http))


async def _call(client: Client, name: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    structured = result.structured_content
    assert structured is not None
    # The SDK wraps a list result as {"result": [...]}; a dict result is the content itself.
    return structured["result"] if name == "list_tasks" else structured


async def _conversation(client: Client, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    async with client:
        return [await _call(client, name, arguments) for name, arguments in calls]


def test_stdio_server_offers_the_tools_and_acts_for_the_token_user(
    settings: Settings, alice: Account, bob: Account
) -> None:
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "taskflow.entrypoints.mcp_server", "--stdio"],
        env=_server_env(settings, TASKFLOW_TOKEN=alice.token),
        cwd=str(REPO_ROOT),
    )

    async def session() -> tuple[list[str], list[Any], Any]:
        async with Client(parameters) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            added = await _call(client, "add_task", {"user_id": alice.user_id, "title": "Buy oats"})
            listed = await _call(client, "list_tasks", {"status": "pending"})
            completed = await _call(client, "complete_task", {"task_id": added["task_id"]})
            # The model writes bob's id: the server still acts for alice, so bob's list is empty.
            foreign = await _call(client, "list_tasks", {"user_id": bob.user_id})
            refused = await client.call_tool(
                "delete_task", {"user_id": bob.user_id, "task_id": added["task_id"]}
            )
            return names, [added, listed, completed, foreign], refused

    names, (added, listed, completed, foreign), refused = asyncio.run(session())
    assert names == list(TOOL_NAMES)
    assert added == {"task_id": added["task_id"], "status": "created", "title": "Buy oats"}
    assert [task["title"] for task in listed] == ["Buy oats"]
    assert completed == {"task_id": added["task_id"], "status": "completed", "title": "Buy oats"}
    assert foreign == []
    assert refused.is_error


def test_stdio_server_refuses_to_start_without_a_valid_token(settings: Settings) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "taskflow.entrypoints.mcp_server", "--stdio"],
        env=_server_env(settings, TASKFLOW_TOKEN="not-a-token"),
        capture_output=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert process.returncode != 0
    assert b"TASKFLOW_TOKEN" in process.stderr


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def _initialize(url: str, token: str | None = None) -> requests.Response:
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.post(url, json=INITIALIZE, headers=ACCEPT | auth, timeout=10)


def test_http_transport_needs_a_bearer_token(mcp_url: str) -> None:
    assert _initialize(mcp_url).status_code == 401
    assert _initialize(mcp_url, "forged").status_code == 401


def test_http_requests_are_limited_per_user(
    settings: Settings, tmp_path: Path, alice: Account, bob: Account
) -> None:
    with _http_server(settings, tmp_path, TASKFLOW_RATE_LIMIT_MCP="3/3600") as url:
        for _ in range(3):
            assert _initialize(url, alice.token).status_code == 200
        refused = _initialize(url, alice.token)
        assert refused.status_code == 429
        retry_after = int(refused.headers["Retry-After"])
        assert retry_after >= 1
        error = refused.json()["error"]
        assert error["retry_after_seconds"] == retry_after
        assert "mcp" in error["reason"]

        # Another user is not slowed down, and requests without a valid token spend nothing.
        assert _initialize(url, bob.token).status_code == 200
        for _ in range(5):
            assert _initialize(url, "forged").status_code == 401
        assert _initialize(url, bob.token).status_code == 200


def test_http_tools_keep_each_user_to_their_own_tasks(
    mcp_url: str, alice: Account, bob: Account
) -> None:
    alice_calls = [
        ("add_task", {"title": "Water the plants", "priority": "high", "tags": ["home"]}),
        ("list_tasks", {"search": "plants"}),
    ]
    added, listed = asyncio.run(_conversation(_http_client(mcp_url, alice.token), alice_calls))
    assert added["status"] == "created"
    assert [(t["id"], t["priority"], t["tags"]) for t in listed] == [
        (added["task_id"], "high", ["home"])
    ]

    bob_calls = [
        ("list_tasks", {}),
        ("list_tasks", {"user_id": alice.user_id, "search": "plants"}),
    ]
    own, foreign = asyncio.run(_conversation(_http_client(mcp_url, bob.token), bob_calls))
    assert own == []
    assert foreign == []

    async def bob_deletes_alices_task() -> Any:
        async with _http_client(mcp_url, bob.token) as client:
            return await client.call_tool("delete_task", {"task_id": added["task_id"]})

    refused = asyncio.run(bob_deletes_alices_task())
    assert refused.is_error
    assert "not found" in refused.content[0].text  # type: ignore[union-attr]
    still_there = asyncio.run(
        _conversation(_http_client(mcp_url, alice.token), [("list_tasks", {"search": "plants"})])
    )
    assert [task["id"] for task in still_there[0]] == [added["task_id"]]


def _call_tool_raw(url: str, token: str, name: str, arguments_json: str) -> dict[str, Any]:
    """One tools/call as raw JSON-RPC text: a lone surrogate must travel as the JSON escape
    `\\ud800`, which a client library refuses to encode from a Python string."""
    body = (
        '{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": '
        f'{{"name": "{name}", "arguments": {arguments_json}}}}}'
    )
    answer = requests.post(
        url,
        data=body.encode(),
        headers=ACCEPT | {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize(
    ("tool", "arguments_json", "argument"),
    [
        ("add_task", '{"title": "Buy \\u0000 oats"}', "title"),
        ("add_task", '{"title": "Oats", "description": "\\ud800"}', "description"),
        ("add_task", '{"title": "Oats", "tags": ["ok", "b\\udfffad"]}', "tags"),
        ("list_tasks", '{"search": "\\u0000"}', "search"),
        ("update_task", '{"task_id": 1, "title": "\\ud800"}', "title"),
    ],
)
def test_http_tools_refuse_unstorable_text_naming_the_argument(
    mcp_url: str, alice: Account, tool: str, arguments_json: str, argument: str
) -> None:
    """NUL and lone surrogates are refused at the MCP door as at the REST edge (issue 12,
    item 4): a tool error naming the argument, and nothing written."""
    answer = _call_tool_raw(mcp_url, alice.token, tool, arguments_json)
    result = answer["result"]
    assert result["isError"] is True, answer
    text = result["content"][0]["text"]
    assert argument in text and "NUL" in text, text
    listed = asyncio.run(_conversation(_http_client(mcp_url, alice.token), [("list_tasks", {})]))
    assert listed == [[]]


def test_stdio_tools_refuse_a_nul_argument_naming_it(settings: Settings, alice: Account) -> None:
    """Over stdio no middleware stands in front of the SDK: each tool checks its arguments."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "taskflow.entrypoints.mcp_server", "--stdio"],
        env=_server_env(settings, TASKFLOW_TOKEN=alice.token),
        cwd=str(REPO_ROOT),
    )

    async def session() -> tuple[Any, Any]:
        async with Client(parameters) as client:
            refused = await client.call_tool("add_task", {"title": "Buy \x00 oats"})
            listed = await _call(client, "list_tasks", {})
            return refused, listed

    refused, listed = asyncio.run(session())
    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "'title'" in text and "NUL" in text, text
    assert listed == []


def test_http_tools_name_the_field_the_command_schema_refuses_while_create_task_is_down(
    settings: Settings, alice: Account, tmp_path: Path
) -> None:
    """A tool argument the tool's types let through but the command's schema refuses is the
    caller's to fix: the tool error names the field and the reason, even while create-task is
    down, instead of "unavailable, try again" (a retry would fail the same way)."""
    down = f"http://127.0.0.1:{free_port()}"
    bad = {"title": "Pay rent", "due": "2031-01-01", "reminders": [{"before_minutes": -5}]}

    async def calls(url: str) -> tuple[Any, Any]:
        async with _http_client(url, alice.token) as client:
            refused = await client.call_tool("add_task", bad)
            down_for_good_input = await client.call_tool("add_task", {"title": "Pay rent"})
            return refused, down_for_good_input

    with _http_server(settings, tmp_path, CREATE_TASK_URL=down) as url:
        refused, unavailable = asyncio.run(calls(url))
    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "reminders.0.before_minutes" in text and "minimum of 0" in text, text
    assert "unavailable" not in text
    assert unavailable.is_error  # good input: create-task's absence, said as such
    assert "unavailable" in unavailable.content[0].text  # type: ignore[union-attr]
