"""What the API's views need, built once by `create_app` and reached through `services()`.

Blueprints registered by other modules (the chat) use the same accessor, so no view builds its
own engine or client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import flask
from sqlalchemy.engine import Engine

from taskflow.adapters.command_client import CommandClient
from taskflow.adapters.rate_limit import RateLimiter
from taskflow.config import Settings

_EXTENSION_KEY = "taskflow"


@dataclass(frozen=True)
class AppServices:
    settings: Settings
    engine: Engine
    commands: CommandClient
    now: Callable[[], datetime]
    rate_limiter: RateLimiter


def install(app: flask.Flask, app_services: AppServices) -> None:
    app.extensions[_EXTENSION_KEY] = app_services


def services() -> AppServices:
    return flask.current_app.extensions[_EXTENSION_KEY]
