"""The smoke test CD runs against a deployed URL (scripts/deploy/smoke.sh) passes against the
real product started locally (`just up`), so a red smoke test after a deploy means the
deployment, not the script."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict

from deploy_toolchain import REPO_ROOT
from taskflow.config import Ports
from taskflow_dev.local.launch import free_port

READY_LINE = "Press Ctrl-C to stop."
START_TIMEOUT_SECONDS = 120


def test_smoke_script_passes_against_the_running_product(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ports = Ports(**{name: free_port() for name in asdict(Ports())})
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("BROKER_URL", "CREATE_TASK_URL", "BROADCAST_URL", "DATABASE_URL")
    }
    environment |= {
        f"TASKFLOW_PORT_{name.upper()}": str(port) for name, port in asdict(ports).items()
    }
    environment |= {"TASKFLOW_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    product = subprocess.Popen(
        [sys.executable, "-m", "taskflow_dev.local"],
        env=environment,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert product.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(product.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while READY_LINE not in "".join(lines) and product.poll() is None:
            assert time.monotonic() < deadline, "the product did not start:\n" + "".join(lines)
            time.sleep(0.2)
        assert product.poll() is None, "the product stopped:\n" + "".join(lines)
        smoke = subprocess.run(
            [
                "bash",
                str(REPO_ROOT / "scripts" / "deploy" / "smoke.sh"),
                f"http://127.0.0.1:{ports.web}",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert "the task's audit history arrived through the broker" in smoke.stdout
    finally:
        product.terminate()  # the runner stops its children on SIGTERM
        try:
            product.wait(timeout=60)
        except subprocess.TimeoutExpired:
            product.kill()
            product.wait()
