"""`bench-results/<stamp>/summary.json`: the figures of issue 13 in the shape it gives, and
`bench-results/latest` pointing at the newest run.

    {"embedded": {create_p50_ms, create_p99_ms, baseline_create_p50_ms, baseline_create_p99_ms,
                  commands_per_s, baseline_inserts_per_s, cpu_ms_per_command},
     "kafka": {... the same ...},
     "socket": {connections, fanout_p99_ms, rss_mb},
     "machine": {... bench.machine.describe, load average at start ...},
     "load_average": {"start": [...], "end": [...]}, ...}

The backings' figures come from the `cost` benchmark, the socket's from `socket`. A figure of a
benchmark that did not run (or failed) is null, so the shape never changes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.report import Result

BACKING_KEYS = (
    "create_p50_ms",
    "create_p99_ms",
    "baseline_create_p50_ms",
    "baseline_create_p99_ms",
    "commands_per_s",
    "baseline_inserts_per_s",
    "cpu_ms_per_command",
)
SOCKET_KEYS = ("connections", "fanout_p99_ms", "rss_mb")
SUMMARY_BACKINGS = ("embedded", "kafka")
FILE_NAME = "summary.json"
LATEST = "latest"


def build(
    results: list[Result],
    machine: dict[str, Any],
    *,
    load_average_end: list[float],
    duration_s: float,
    quick: bool,
) -> dict[str, Any]:
    """The summary document from the results of one run (any subset of the benchmarks)."""
    by_key = {(result.benchmark, result.backing): result for result in results}
    document: dict[str, Any] = {}
    for backing in SUMMARY_BACKINGS:
        cost = by_key.get(("cost", backing))
        row = cost.rows[0] if cost and cost.rows else {}
        document[backing] = {key: row.get(key) for key in BACKING_KEYS}
    socket = next((r for r in results if r.benchmark == "socket"), None)
    details = socket.details if socket else {}
    document["socket"] = {key: details.get(key) for key in SOCKET_KEYS}
    document["machine"] = machine
    document["load_average"] = {
        "start": machine.get("load_average_at_start"),
        "end": load_average_end,
    }
    document["duration_s"] = round(duration_s, 1)
    document["quick"] = quick
    document["benchmarks"] = sorted(f"{r.benchmark}-{r.backing}" for r in results)
    return document


def write(document: dict[str, Any], results_dir: Path) -> Path:
    """summary.json in the run's folder; `latest` beside the runs is moved to it atomically."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / FILE_NAME
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    latest = results_dir.parent / LATEST
    staging = results_dir.parent / f".{LATEST}-{os.getpid()}"
    staging.unlink(missing_ok=True)
    # Relative, so the results folder can be moved or copied whole.
    staging.symlink_to(results_dir.name)
    staging.replace(latest)
    return path
