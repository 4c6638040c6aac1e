"""The one error shape of the REST API: `{"error": {"field"?, "reason"}}` with a 4xx/5xx status.

Views (and blueprints others register, such as the chat) raise ApiError; the app renders it.
"""

from __future__ import annotations

from collections.abc import Mapping

import flask


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field
        self.headers = dict(headers or {})

    def response(self) -> flask.Response:
        return error_response(self.status, self.reason, field=self.field, headers=self.headers)


def error_response(
    status: int,
    reason: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> flask.Response:
    error = {"field": field, "reason": reason} if field else {"reason": reason}
    response = flask.jsonify({"error": error})
    response.status_code = status
    response.headers.update(dict(headers or {}))
    return response


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(422, reason, field=field)
