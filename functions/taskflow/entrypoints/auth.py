"""Bearer-token authentication for every API route.

`require_user` admits a request only with a valid `Authorization: Bearer <jwt>`: 401 otherwise
(with a WWW-Authenticate challenge, RFC 6750). When the route has a `user_id` path parameter, the
token's user must be that user: 403 otherwise. Then the user's API rate limit applies (429).
The view reads the caller with `current_user_id()`.
Tokens minted by Better Auth with the same secret are accepted: only signature, expiry and `sub`
are checked, not a local users row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import flask

from taskflow.adapters import rate_limit, tokens
from taskflow.entrypoints.app_services import services
from taskflow.entrypoints.http_errors import ApiError

P = ParamSpec("P")
R = TypeVar("R")

_REALM = 'Bearer realm="taskflow"'


def authenticate(request: flask.Request) -> str:
    """Return the user id of the request's bearer token, or raise a 401 ApiError."""
    try:
        token = tokens.bearer_token(request.headers.get("Authorization"))
    except tokens.InvalidToken as error:
        raise ApiError(401, str(error), headers={"WWW-Authenticate": _REALM}) from None
    try:
        return tokens.verify(token, secret=services().settings.jwt_secret)
    except tokens.InvalidToken:
        # The library's message may say which check failed; the client only needs "log in again".
        raise ApiError(
            401,
            "invalid or expired token",
            headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
        ) from None


def require_user(view: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(view)
    def authenticated_view(*args: P.args, **kwargs: P.kwargs) -> R:
        user_id = authenticate(flask.request)
        path_user_id = kwargs.get("user_id")
        if path_user_id is not None and path_user_id != user_id:
            raise ApiError(403, "this token does not belong to the user in the path")
        services().rate_limiter.admit(user_id, rate_limit.API)
        flask.g.user_id = user_id
        return view(*args, **kwargs)

    return authenticated_view


def current_user_id() -> str:
    return flask.g.user_id
