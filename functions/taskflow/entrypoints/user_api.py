"""User-wide reads beside the task routes: the tag list with counts and the activity log.

Reads only (the read side of CQRS, like the task list); the same bearer-token rules as every
route under /api/{user_id}."""

from __future__ import annotations

import flask
from sqlalchemy.orm import Session

from taskflow.adapters import activity_queries
from taskflow.entrypoints.app_services import services
from taskflow.entrypoints.auth import require_user

blueprint = flask.Blueprint("user", __name__, url_prefix="/api/<user_id>")


@blueprint.get("/tags")
@require_user
def tags(user_id: str) -> flask.Response:
    with Session(services().engine) as session:
        items = activity_queries.tag_counts(session, user_id, flask.request.args)
    return flask.jsonify({"items": items})


@blueprint.get("/audit")
@require_user
def audit(user_id: str) -> flask.Response:
    with Session(services().engine) as session:
        return flask.jsonify(activity_queries.activity(session, user_id, flask.request.args))
