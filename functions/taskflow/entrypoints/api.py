"""The REST API and web page of TaskFlow: one Flask app, built by `create_app`.

It only translates: HTTP in, a command to create-task or a query on the read side out, and every
failure into the one JSON error shape (http_errors.py). Run it locally with `just up`, or alone:
`flask --app taskflow.entrypoints.api:create_app run --port 8080`.
"""

from __future__ import annotations

import logging
import urllib.parse
from functools import cache
from pathlib import Path
from typing import Any

import flask
import sqlalchemy as sa
import yaml
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from taskflow import bootstrap
from taskflow.adapters import database, rate_limit
from taskflow.adapters.command_client import (
    CommandRejected,
    CommandTaskNotFound,
    CreateTaskUnavailable,
)
from taskflow.config import REPO_ROOT, Settings, load_settings, require_jwt_secret
from taskflow.domain.errors import ValidationError
from taskflow.entrypoints import accounts, chat, observability, tasks_api, user_api
from taskflow.entrypoints.app_services import install, services
from taskflow.entrypoints.http_errors import ApiError, error_response
from taskflow.entrypoints.request_body import IDEMPOTENCY_HEADER, refuse_unstorable_parameters

log = logging.getLogger(__name__)

SERVICE = "api"
MAX_REQUEST_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = "5"
# SQLSTATE classes meaning the database cannot serve now: 08 connection exception, 57 operator
# intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 starting up or shutting down).
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57")
FRONTEND_DIR = REPO_ROOT / "frontend"
OPENAPI_FILE = REPO_ROOT / "specs" / "openapi.yaml"
# Shown at / until the web page exists in frontend/.
PLACEHOLDER_PAGE = (
    "<!doctype html><title>TaskFlow</title><h1>TaskFlow</h1>"
    '<p>The API is running; see <a href="/openapi.json">/openapi.json</a>.</p>'
)


def create_app(settings: Settings | None = None) -> flask.Flask:
    settings = settings or load_settings()
    require_jwt_secret(settings.jwt_secret)
    app = flask.Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # First, so every request is counted and traced, those other hooks answer early included.
    observability.observe_app(app, SERVICE)
    _migrate(settings.database_url)
    install(app, bootstrap.api_services(settings))
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(tasks_api.blueprint)
    app.register_blueprint(user_api.blueprint)
    app.register_blueprint(chat.blueprint)
    app.register_blueprint(_site_blueprint())
    _register_error_handlers(app)
    # Before any view reads them: a query string or path holding NUL is a 422 like a body field.
    app.before_request(refuse_unstorable_parameters)
    app.after_request(_with_security_headers)
    return app


def content_security_policy(settings: Settings, request_host: str) -> str:
    """Only the page's own files may run or style it, and it may talk to the API and to the
    live-sync server (another port, or TASKFLOW_PUBLIC_SOCKET_URL): no inline script or style,
    no framing. frontend/ keeps to that (specs/web-page.md)."""
    if settings.public_socket_url:
        socket_origin = urllib.parse.urlsplit(settings.public_socket_url)
        host = socket_origin.netloc
        secure = socket_origin.scheme == "https"
    else:
        host = f"{urllib.parse.urlsplit('//' + request_host).hostname}:"
        host += str(settings.ports.broadcast_update)
        secure = flask.request.scheme == "https"
    socket = f"{'wss' if secure else 'ws'}://{host} {'https' if secure else 'http'}://{host}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {socket}; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _with_security_headers(response: flask.Response) -> flask.Response:
    """Every answer of the web app: the page cannot be framed (clickjacking) or have its files
    read as another type; the page itself runs under the CSP (issue 12, item 6)."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = content_security_policy(
        services().settings, flask.request.host
    )
    return response


def _migrate(database_url: str) -> None:
    """Bring the schema up to date. A database that is down must not keep the API from starting:
    its routes answer 503 until the database is back (create-task migrates it at its start)."""
    try:
        database.migrate(database_url)
    except (sa.exc.SQLAlchemyError, ConnectionError) as error:
        if not database_unavailable(error):
            raise
        log.warning("database unavailable at start-up, not migrated: %s", type(error).__name__)


def _site_blueprint() -> flask.Blueprint:
    site = flask.Blueprint("site", __name__)

    @site.get("/healthz")
    def healthz() -> flask.Response:
        return flask.jsonify({"status": "ok"})

    @site.get("/openapi.json")
    def openapi() -> flask.Response:
        return flask.jsonify(openapi_document())

    @site.get("/")
    def index() -> flask.Response:
        if (FRONTEND_DIR / "index.html").is_file():
            return flask.send_from_directory(FRONTEND_DIR, "index.html")
        return flask.Response(PLACEHOLDER_PAGE, mimetype="text/html")

    @site.get("/<path:path>")
    def frontend_file(path: str) -> flask.Response:
        # send_from_directory refuses paths that climb out of the folder.
        return flask.send_from_directory(FRONTEND_DIR, path)

    return site


@cache
def openapi_document() -> dict[str, Any]:
    return yaml.safe_load(Path(OPENAPI_FILE).read_text())


def _register_error_handlers(app: flask.Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> flask.Response:
        return error.response()

    @app.errorhandler(ValidationError)
    def invalid_input(error: ValidationError) -> flask.Response:
        return error_response(422, error.reason, field=error.field)

    @app.errorhandler(CommandRejected)
    def command_rejected(error: CommandRejected) -> flask.Response:
        return error_response(error.status, error.reason, field=error.field)

    @app.errorhandler(CommandTaskNotFound)
    def task_not_found(_error: CommandTaskNotFound) -> flask.Response:
        return error_response(404, tasks_api.TASK_NOT_FOUND)

    @app.errorhandler(rate_limit.RateLimited)
    def rate_limited(error: rate_limit.RateLimited) -> flask.Response:
        response = flask.jsonify(error.answer())
        response.status_code = 429
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response

    @app.errorhandler(CreateTaskUnavailable)
    def create_task_unavailable(error: CreateTaskUnavailable) -> flask.Response:
        log.warning("command not confirmed: %s", error)
        headers = {"Retry-After": RETRY_AFTER_SECONDS}
        if not error.outcome_unknown:
            return error_response(
                503,
                "the task service is unavailable, nothing was changed; retry shortly",
                headers=headers,
            )
        key = flask.g.get("idempotency_key")
        if key:
            headers[IDEMPOTENCY_HEADER] = key
        how_to_retry = (
            f"retry with the header Idempotency-Key: {key} to get its outcome without applying "
            "it twice"
            if key
            else "check your tasks before retrying"
        )
        return error_response(
            503,
            "the task service did not confirm the change, so it may have been applied; "
            + how_to_retry,
            headers=headers,
        )

    @app.errorhandler(sa.exc.DBAPIError)
    @app.errorhandler(sa.exc.TimeoutError)
    @app.errorhandler(ConnectionError)
    def database_error(error: Exception) -> flask.Response:
        if not database_unavailable(error):
            log.error("database error", exc_info=error)
            return error_response(500, "internal error")
        log.warning("database unavailable: %s", type(error).__name__)
        return error_response(
            503,
            "database unavailable, retry shortly",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge) -> flask.Response:
        return error_response(
            413, f"the request body is larger than {MAX_REQUEST_BYTES} bytes", field="body"
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> flask.Response:
        # Keep the exception's own headers (Allow on a 405), but the body is ours: JSON.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return error_response(error.code or 500, error.description or error.name, headers=headers)

    @app.errorhandler(500)
    def internal_error(_error: Exception) -> flask.Response:
        # The details are in the log; the client learns nothing about the internals.
        return error_response(500, "internal error")


def database_unavailable(error: BaseException) -> bool:
    """Whether a database error means "cannot be reached now" (503, retry) rather than a bug.

    - OperationalError, InterfaceError, a pool timeout: SQLAlchemy's own "unreachable" kinds.
    - A bare ConnectionError: pg8000 lets a reset during its connection handshake (PostgreSQL
      shutting down) escape unwrapped; the API talks to no other socket directly (create-task's
      client maps its own errors), so it means the database too.
    - Any driver error SQLAlchemy saw invalidate the connection, or whose SQLSTATE says the
      server is going away or not accepting connections yet: pg8000 reports those as a plain
      DatabaseError.
    """
    if isinstance(
        error,
        sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError | ConnectionError,
    ):
        return True
    return isinstance(error, sa.exc.DBAPIError) and (
        error.connection_invalidated
        or _sqlstate(error.orig).startswith(UNAVAILABLE_SQLSTATE_CLASSES)
    )


def _sqlstate(error: BaseException | None) -> str:
    """The server's SQLSTATE of a driver error; pg8000 puts its fields in args[0] ({"C": ...})."""
    fields = error.args[0] if error is not None and error.args else None
    return str(fields.get("C", "")) if isinstance(fields, dict) else ""
