"""The chart's memory for broadcast-update follows its measured peak (specs/benchmarks.md, the
"socket" benchmark: 10,000 sockets in one process). A limit below the peak gets the pod
OOM-killed, dropping every browser's socket, exactly when the most users are connected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chart import VALUE_SETS, load_documents
from deploy_toolchain import REPO_ROOT

BENCHMARKS = REPO_ROOT / "specs" / "benchmarks.md"
# Room above the measured peak for what the benchmark did not do: reconnect bursts (the spec
# notes the connect rate moves the heap by ~40 %) and a heavier event mix.
LIMIT_HEADROOM = 1.25
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9, "": 1}


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (binary or decimal suffix) in bytes."""
    match = re.fullmatch(r"(\d+)([KMG]i?|)", quantity)
    assert match, f"unexpected memory quantity {quantity!r}"
    return int(match[1]) * UNITS[match[2]]


def socket_peak_bytes(benchmarks: str) -> int:
    """The highest `RSS peak` (MB, 10^6 bytes) of the socket benchmark's table."""
    # The socket section alone: it ends at the next heading of either level.
    section = re.split(r"\n#{2,3} ", benchmarks.split("### socket", 1)[1], maxsplit=1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    column = header.index("RSS peak")
    peaks = [
        float(cells[column].strip().replace(" MB", "").replace(",", ""))
        for cells in (row.strip("|").split("|") for row in rows[2:])
    ]
    assert peaks, "specs/benchmarks.md has no socket measurement"
    return int(max(peaks) * 10**6)


def measured_socket_peak_bytes() -> int:
    return socket_peak_bytes(BENCHMARKS.read_text())


def test_the_highest_peak_of_the_table_is_read() -> None:
    table = """### socket — live sync
| round | connections | RSS peak | p99 |
|---|---|---|---|
| 1 | 10,000 | 1,204 MB | 3 ms |
| 2 | 10,000 | 487 MB | 2 ms |

### the next benchmark
| command | p50 |
|---|---|
| bench | 3 ms |

## Next section
| RSS peak |
|---|
| 9,999 MB |
"""
    assert socket_peak_bytes(table) == 1204 * 10**6


def test_quantities_are_read_in_their_units() -> None:
    assert quantity_bytes("384Mi") == 384 * 2**20 < 488 * 10**6
    assert quantity_bytes("500M") == 500 * 10**6


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_broadcast_update_memory_covers_its_measured_peak(
    rendered: dict[str, Path], value_set: str
) -> None:
    service = next(
        doc
        for doc in load_documents(rendered[value_set])
        if doc["kind"] == "Service" and doc["metadata"]["name"] == "broadcast-update"
    )
    resources = service["spec"]["template"]["spec"]["containers"][0]["resources"]
    peak = measured_socket_peak_bytes()
    # The scheduler reserves the request: a node must hold the peak, not a quarter of it.
    assert quantity_bytes(resources["requests"]["memory"]) >= peak
    assert quantity_bytes(resources["limits"]["memory"]) >= peak * LIMIT_HEADROOM
