"""Helpers of the observability tests that read what services wrote (a module of its own name:
`from conftest import` would pick whichever test folder's conftest came first)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def function_log(tmp_path: Path, name: str, base_url: str) -> Path:
    """Where FunctionProcesses writes a function's stdout and stderr."""
    return tmp_path / f"{name}-{base_url.rsplit(':', 1)[1]}.log"


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line a service wrote; fails on the first one that is not a JSON object."""
    lines = []
    for text in path.read_text().splitlines():
        if text.strip():
            line = json.loads(text)
            assert isinstance(line, dict), text
            lines.append(line)
    return lines


# As deploy/Dockerfile's api target runs gunicorn: its own lines are JSON too.
API_LOGGING = (
    "--name",
    "api",
    "--logger-class",
    "taskflow.entrypoints.observability.GunicornJsonLogger",
)
StartApi = Callable[[dict[str, str]], str]
