"""`python -m taskflow_dev.local` started from outside, the way the tests and the benchmarks drive
it: every port free, the settings of the caller's shell kept out, its output in a file, stopped with
Ctrl-C as a developer stops `just up`, and nothing of it left running afterwards."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from taskflow.config import RATE_LIMIT_DEFAULTS, REPO_ROOT, Ports

READY_LINE = "Press Ctrl-C to stop."
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
WAIT_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.05
_DYNAMIC_PORTS = range(10000, 20000)
_handed_out: set[int] = set()
# Every per-user and per-client limit (config.load_settings) raised out of reach: for load that
# is far beyond one person's pace, from one address, where the limiter's cost stays in every
# request but it never refuses (tests/reliability/test_rate_limits.py covers the limiter).
RATE_LIMITS_OUT_OF_REACH = dict.fromkeys(RATE_LIMIT_DEFAULTS, "1000000000/1")
# Settings a developer's shell may hold that would point the launched product elsewhere.
INHERITED_SETTINGS = ("BROKER_URL", "CREATE_TASK_URL", "BROADCAST_URL", "DATABASE_URL")


def free_port() -> int:
    """A port nothing holds now, for a process about to bind it, never handed out twice by this
    process. Not one the kernel picks: those come from its ephemeral range (32768-60999), from
    which every outgoing connection also takes its local port, so one could hold the port before
    the process binds it (a Kafka client did: the router's start failed with "address already in
    use"). Nor from 20000-32767, where the fixed ports of scripts/postgres.sh, kafka.sh and
    dapr.sh live, which are stopped and started again during the tests."""
    return free_port_block(1)


def free_port_block(size: int) -> int:
    """The first of `size` consecutive ports that are all free now and none of which this
    process has handed out before, for a runner that numbers its ports from a base (the daprd
    sidecars of `just up --dapr`). Every one of them counts as handed out from now on, so a
    later free_port() cannot give a session fixture one that a sidecar will bind."""
    while True:
        first = random.randrange(_DYNAMIC_PORTS.start, _DYNAMIC_PORTS.stop - size)
        block = range(first, first + size)
        if _handed_out.isdisjoint(block) and all(_bindable(port) for port in block):
            _handed_out.update(block)
            return first


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def deployed_gunicorn(app: str, port: int, *options: str) -> list[str]:
    """gunicorn as deploy/Dockerfile runs the web app (1 worker, 8 threads, no timeout), serving
    `app` on a local port; `options` are more gunicorn options."""
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        *options,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "8",
        "--timeout",
        "0",
        app,
    ]


def wait_until(
    condition: Callable[[], object], *, what: str, timeout: float = WAIT_TIMEOUT_SECONDS
) -> None:
    """Poll `condition` until it holds; a TimeoutError naming `what` when it never does. An
    exception from `condition` is not swallowed: it is how a condition says "never"."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (the runner's children live in their own
    sessions, so a process group does not cover them)."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children[parent].append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children[todo.pop()]:
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class LaunchedRunner:
    """One `python -m taskflow_dev.local <arguments>` on free ports, with its data folder in
    `workdir/data` and its output in `workdir/product.log`; `env` adds or overrides settings."""

    def __init__(
        self, workdir: Path, env: Mapping[str, str] | None = None, arguments: Sequence[str] = ()
    ) -> None:
        self.ports = Ports(**{name: free_port() for name in asdict(Ports())})
        self.log_path = workdir / "product.log"
        child_env = {k: v for k, v in os.environ.items() if k not in INHERITED_SETTINGS}
        child_env |= {
            f"TASKFLOW_PORT_{name.upper()}": str(port) for name, port in asdict(self.ports).items()
        }
        child_env |= {
            "TASKFLOW_DATA_DIR": str(workdir / "data"),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "taskflow_dev.local", *arguments],
                env=child_env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # Known once ready: a child that died since is still looked for when cleaning up.
        self.children: set[int] = set()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, name)}"

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until the runner prints its table; an exit before that raises, with its output."""

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"the runner exited:\n{self.output()[-4000:]}")
            return READY_LINE in self.output()

        wait_until(ready, what="the runner to start", timeout=timeout)
        self.children = descendants(self.process.pid)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """Ctrl-C, then whatever is left after `timeout` seconds is killed; the runner's exit
        code."""
        self.children |= descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        code = self.process.wait()
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return code
