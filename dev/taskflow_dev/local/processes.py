"""Child processes of the local runner: each in its own process group, so stopping one stops
everything it forked (functions-framework runs a gunicorn master and worker), and Ctrl-C in the
terminal reaches only the runner, which then stops the children in order."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests
from taskflow.config import REPO_ROOT

STOP_GRACE_SECONDS = 10.0


# Functions that serve themselves rather than through the functions-framework CLI: their main.py
# runs an aiohttp server that answers Socket.IO and hands every other path to functions-framework's
# ASGI app of the target (broadcast-update holds thousands of websockets on one event loop; the
# CLI's ASGI app routes HTTP only).
SELF_SERVED_FUNCTIONS = frozenset({"broadcast_update"})


def function_command(name: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """What deploy/Dockerfile's stage runs for functions/<name> (source main.py, target <name>),
    here from this interpreter's environment and on a local port."""
    if name in SELF_SERVED_FUNCTIONS:
        return [
            sys.executable,
            str(REPO_ROOT / "functions" / name / "main.py"),
            "--host",
            host,
            "--port",
            str(port),
        ]
    return [
        str(Path(sys.executable).parent / "functions-framework"),
        "--source",
        str(REPO_ROOT / "functions" / name / "main.py"),
        "--target",
        name,
        "--host",
        host,
        "--port",
        str(port),
    ]


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    url: str  # where it answers HTTP once ready


class Child:
    def __init__(self, spec: ChildSpec, env: Mapping[str, str], cwd: Path) -> None:
        self.spec = spec
        self._env = dict(env)
        self._cwd = cwd
        self.restarts = 0
        self.process = self._spawn()

    @property
    def name(self) -> str:
        return self.spec.name

    def _spawn(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            list(self.spec.argv),
            env=self._env,
            cwd=self._cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None
        threading.Thread(
            target=_prefix_lines, args=(self.name, process.stdout), daemon=True
        ).start()
        return process

    def exit_code(self) -> int | None:
        return self.process.poll()

    def restart(self) -> None:
        self.restarts += 1
        self.process = self._spawn()

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


def answers_http(base_url: str) -> bool:
    """Any HTTP answer on /healthz means the server listens (not every function has the route;
    a 404 still proves it is up)."""
    try:
        requests.get(f"{base_url}/healthz", timeout=1)
    except requests.RequestException:
        return False
    return True


def _prefix_lines(name: str, stream: IO[bytes]) -> None:
    for line in stream:
        sys.stdout.write(f"{name:>17} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def stop_all(children: Sequence[Child], *, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every child's group, wait up to `grace` seconds in total, then SIGKILL the rest."""
    for child in children:
        if child.exit_code() is None:
            child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.signal_group(signal.SIGKILL)
            child.process.wait()
        # A gunicorn worker may outlive its master for a moment: sweep the group too.
        child.signal_group(signal.SIGKILL)
