"""The task tools as an MCP server (the official `mcp` SDK), for any MCP client.

Two transports, one set of tools (chat/tools.py):

- stdio, for desktop assistants: `python -m taskflow.entrypoints.mcp_server --stdio`. The
  assistant's configuration passes the user's TaskFlow token in TASKFLOW_TOKEN; it is verified
  once at start-up and every tool acts for that user.
- streamable HTTP, for networked clients: `python -m taskflow.entrypoints.mcp_server --http`
  serves http://127.0.0.1:8106/mcp (port: settings.ports.mcp). Every request needs
  `Authorization: Bearer <jwt>` (the REST API's token): 401 without a valid one; each call's
  tools act for the token's user, and each request spends one token of that user's MCP rate
  limit (429 with Retry-After past it, as the REST API answers).

Its own port rather than a path of the web app: the SDK's transport is an ASGI (Starlette) app
and the web app is WSGI (Flask); running them side by side avoids an ASGI/WSGI bridge.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from taskflow.adapters import database, rate_limit, tokens
from taskflow.adapters.command_client import CommandClient
from taskflow.chat.tools import TaskTools, database_task_reader, tool_functions
from taskflow.config import Settings, load_settings, require_jwt_secret
from taskflow.entrypoints.request_body import UNSTORABLE_TEXT, has_unstorable_text

TOKEN_ENV = "TASKFLOW_TOKEN"
SERVER_NAME = "taskflow"
INSTRUCTIONS = (
    "Manage the signed-in user's TaskFlow todo list: add, list, search, complete, update and "
    "delete tasks, with due dates, reminders, recurrence, priorities and tags."
)


class JwtVerifier:
    """Accepts the REST API's bearer tokens; the token's subject is the acting user."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            user_id = tokens.verify(token, secret=self._secret)
        except tokens.InvalidToken:
            return None
        return AccessToken(token=token, client_id=user_id, scopes=[], subject=user_id)


def build_server(
    settings: Settings,
    current_user: Callable[[], str],
    *,
    verifier: JwtVerifier | None = None,
    public_url: str | None = None,
) -> MCPServer:
    """An MCP server whose tools act for `current_user()`; with a verifier, HTTP needs auth."""
    engine = database.make_engine(settings.database_url)
    commands = CommandClient.from_settings(settings)
    read_tasks = database_task_reader(engine, lambda: datetime.now(UTC))

    def tools_for_caller() -> TaskTools:
        return TaskTools(current_user(), commands, read_tasks)

    auth = None
    if verifier is not None:
        url = public_url or f"http://127.0.0.1:{settings.ports.mcp}"
        auth = AuthSettings(issuer_url=url, resource_server_url=url, validate_token_resource=False)
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, token_verifier=verifier, auth=auth)
    for tool in tool_functions(tools_for_caller):
        server.add_tool(refusing_unstorable_text(tool))
    return server


def _holds_unstorable_text(value: object) -> bool:
    if isinstance(value, str):
        return has_unstorable_text(value)
    if isinstance(value, list | tuple):
        return any(_holds_unstorable_text(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_unstorable_text(k) or _holds_unstorable_text(v) for k, v in value.items())
    return False


def refusing_unstorable_text(tool: Callable[..., Any]) -> Callable[..., Any]:
    """`tool`, refusing an argument that holds NUL or a lone surrogate with a tool error that
    names it, before anything is sent or queried: the REST edge's rule (request_body.py, issue
    12 item 4) at the MCP door, where JSON-RPC carries the same JSON escapes. Keeps the tool's
    name, docstring and signature, which the SDK reads to build its schema."""

    @functools.wraps(tool)
    def checked(**arguments: Any) -> Any:
        reason = unstorable_argument(arguments)
        if reason is not None:
            raise ToolError(reason)
        return tool(**arguments)

    return checked


def unstorable_argument(arguments: dict[str, Any]) -> str | None:
    """Why the first argument holding NUL or a lone surrogate is refused, naming it; None when
    none does."""
    for name, value in arguments.items():
        if _holds_unstorable_text(name) or _holds_unstorable_text(value):
            return f"argument {name!r} {UNSTORABLE_TEXT}; nothing was changed"
    return None


def user_of_request() -> str:
    """The user of the HTTP request's bearer token (the SDK's auth middleware checked it)."""
    access = get_access_token()
    if access is None or not access.subject:
        raise ToolError("not authenticated")
    return access.subject


class RateLimitedPerUser:
    """Spends one token of the bearer token's user per HTTP request, before the SDK sees it, or
    answers 429 with Retry-After. A request without a valid token spends nothing: the SDK
    answers it 401."""

    def __init__(self, app: ASGIApp, limiter: rate_limit.RateLimiter, secret: str) -> None:
        self._app = app
        self._limiter = limiter
        self._secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user_id = self._user_of(scope) if scope["type"] == "http" else None
        if user_id is not None:
            try:
                self._limiter.admit(user_id, rate_limit.MCP)
            except rate_limit.RateLimited as error:
                refusal = JSONResponse(
                    error.answer(),
                    status_code=429,
                    headers={"Retry-After": str(error.retry_after_seconds)},
                )
                await refusal(scope, receive, send)
                return
        await self._app(scope, receive, send)

    def _user_of(self, scope: Scope) -> str | None:
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        try:
            return tokens.verify(tokens.bearer_token(authorization), secret=self._secret)
        except tokens.InvalidToken:
            return None


class UnstorableArgumentsRefused:
    """Answers a `tools/call` whose arguments hold NUL or a lone surrogate with a tool error
    naming the argument, before the SDK parses the request: its JSON parser refuses a lone
    surrogate escape (`"\\ud800"`) with a bare 400 "Parse error" that names nothing, while
    Python's accepts it. Only for a caller with a valid token (others get the SDK's 401); any
    other request is handed on with its body unchanged."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self._app = app
        self._secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        # The SDK reads the whole body before parsing it too, so buffering costs nothing more.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refusal = self._refusal(scope, body)
        if refusal is not None:
            await JSONResponse(refusal)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, replay, send)

    def _refusal(self, scope: Scope, body: bytes) -> dict[str, Any] | None:
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        try:
            tokens.verify(tokens.bearer_token(authorization), secret=self._secret)
            request = json.loads(body)
        except (tokens.InvalidToken, ValueError, RecursionError):
            return None
        if not isinstance(request, dict) or request.get("method") != "tools/call":
            return None
        params = request.get("params")
        arguments = params.get("arguments") if isinstance(params, dict) else None
        if not isinstance(arguments, dict):
            return None
        reason = unstorable_argument(arguments)
        if reason is None:
            return None
        result = {"content": [{"type": "text", "text": reason}], "isError": True}
        return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}


def http_app(settings: Settings, host: str, public_url: str) -> Starlette:
    server = build_server(
        settings, user_of_request, verifier=JwtVerifier(settings.jwt_secret), public_url=public_url
    )
    # Stateless: no session lives in this process, so any replica can answer any request. The
    # host decides the SDK's DNS-rebinding guard (on for a loopback host).
    app = server.streamable_http_app(stateless_http=True, json_response=True, host=host)
    limiter = rate_limit.RateLimiter({rate_limit.MCP: settings.mcp_rate_limit})
    # Added first, so it runs inside the rate limit: a refused call still spends its token.
    app.add_middleware(UnstorableArgumentsRefused, secret=settings.jwt_secret)
    app.add_middleware(RateLimitedPerUser, limiter=limiter, secret=settings.jwt_secret)
    return app


def stdio_user(settings: Settings) -> str:
    token = os.environ.get(TOKEN_ENV, "")
    try:
        return tokens.verify(token, secret=settings.jwt_secret)
    except tokens.InvalidToken as error:
        sys.exit(f"{TOKEN_ENV} must hold a valid TaskFlow token (log in to get one): {error}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    transport = parser.add_mutually_exclusive_group(required=True)
    transport.add_argument("--stdio", action="store_true", help="serve one client on stdio")
    transport.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="default: settings.ports.mcp (8106)")
    arguments = parser.parse_args(argv)
    settings = load_settings()
    require_jwt_secret(settings.jwt_secret)
    if arguments.stdio:
        user_id = stdio_user(settings)
        build_server(settings, lambda: user_id).run("stdio")
        return
    import uvicorn

    port = arguments.port or settings.ports.mcp
    public_url = f"http://{arguments.host}:{port}"
    app = http_app(settings, arguments.host, public_url)
    uvicorn.run(app, host=arguments.host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
