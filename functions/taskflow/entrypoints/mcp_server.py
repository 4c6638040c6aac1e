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
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

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
        server.add_tool(tool)
    return server


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


def http_app(settings: Settings, host: str, public_url: str) -> Starlette:
    server = build_server(
        settings, user_of_request, verifier=JwtVerifier(settings.jwt_secret), public_url=public_url
    )
    # Stateless: no session lives in this process, so any replica can answer any request. The
    # host decides the SDK's DNS-rebinding guard (on for a loopback host).
    app = server.streamable_http_app(stateless_http=True, json_response=True, host=host)
    limiter = rate_limit.RateLimiter({rate_limit.MCP: settings.mcp_rate_limit})
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
