"""Routing inside one functions-framework function: an `@http` function receives every path, so
each function maps (method, path) to a handler here, and every function answers the probes.

`GET /metrics` is not here: the public port answers it 404, and the process's metrics are on
its metrics-only port (observability.serve_metrics, issue 12 item 6).

`GET /healthz` answers 200 while the process serves requests (Kubernetes readiness and liveness
probes, the local runner's start-up check). It does not touch the database: a database outage
should make deliveries fail and be retried, not make the platform restart healthy processes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import flask

from taskflow.entrypoints import cloudevents_http

Handler = Callable[[flask.Request], flask.Response]
Routes = Mapping[tuple[str, str], Handler]


def healthz(request: flask.Request) -> flask.Response:
    return flask.Response(json.dumps({"status": "ok"}), status=200, mimetype="application/json")


def dispatch(request: flask.Request, routes: Routes) -> flask.Response:
    key = (request.method, request.path)
    if key == ("GET", "/healthz"):
        return healthz(request)
    handler = routes.get(key)
    if handler is None:
        return cloudevents_http.rejected(
            f"no route for {request.method} {request.path}", status=404, field="path"
        )
    return handler(request)
