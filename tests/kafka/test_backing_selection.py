"""Choosing the router's backing: a wrong choice is refused at start, naming the setting and the
choices, before anything listens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start_router(tmp_path: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskflow_dev.router", "--port", "0", *arguments],
        env={**os.environ, "TASKFLOW_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unknown_backing_option_is_refused_with_the_choices(tmp_path: Path) -> None:
    result = start_router(tmp_path, "--backing", "redis")
    assert result.returncode == 2
    assert "--backing: invalid choice: 'redis'" in result.stderr
    assert "'sqlite', 'kafka'" in result.stderr


def test_an_unknown_backing_setting_is_refused_naming_the_variable(tmp_path: Path) -> None:
    result = start_router(tmp_path, TASKFLOW_ROUTER_BACKING="redis")
    assert result.returncode != 0
    assert "TASKFLOW_ROUTER_BACKING must be one of sqlite, kafka; got 'redis'" in result.stderr
