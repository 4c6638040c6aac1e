"""bench/summary.py: summary.json has exactly the shape issue 13 gives, whatever ran, and
`latest` follows the newest run. Built from hand-made results: no benchmark runs, no timings."""

from __future__ import annotations

import json
from pathlib import Path

from bench import summary
from bench.report import Result

MACHINE = {"cpu_model": "test cpu", "cores": 2, "load_average_at_start": [0.5, 0.4, 0.3]}
COST_ROW = {
    "create_p50_ms": 20.0,
    "create_p99_ms": 40.0,
    "baseline_create_p50_ms": 4.0,
    "baseline_create_p99_ms": 9.0,
    "commands_per_s": 30.0,
    "baseline_inserts_per_s": 400.0,
    "cpu_ms_per_command": 25.0,
    # Extra columns of the cost table stay out of the summary.
    "p50_ratio": 5.0,
}
SOCKET_DETAILS = {"connections": 10000, "fanout_p99_ms": 50.6, "rss_mb": 487.0, "other": 1}


def _results() -> list[Result]:
    return [
        Result("cost", "embedded", [COST_ROW]),
        Result("cost", "kafka", [{**COST_ROW, "commands_per_s": 12.0}]),
        Result("socket", "embedded", [{}], details=SOCKET_DETAILS),
        Result("pipeline", "embedded", [{"users": 1}]),
    ]


def _build(results: list[Result]) -> dict[str, object]:
    return summary.build(
        results, MACHINE, load_average_end=[1.0, 0.9, 0.8], duration_s=600.04, quick=True
    )


def test_the_figures_sit_under_each_backing_and_the_socket_with_the_issues_keys() -> None:
    document = _build(_results())

    assert set(document["embedded"]) == set(summary.BACKING_KEYS)
    assert document["embedded"]["create_p50_ms"] == 20.0
    assert document["kafka"]["commands_per_s"] == 12.0
    assert document["socket"] == {"connections": 10000, "fanout_p99_ms": 50.6, "rss_mb": 487.0}
    assert document["machine"] == MACHINE
    assert document["load_average"] == {"start": [0.5, 0.4, 0.3], "end": [1.0, 0.9, 0.8]}
    assert document["duration_s"] == 600.0


def test_a_benchmark_that_did_not_run_leaves_nulls_not_a_different_shape() -> None:
    full, partial = _build(_results()), _build([Result("cost", "embedded", [COST_ROW])])

    for section in ("embedded", "kafka", "socket"):
        assert set(partial[section]) == set(full[section])
    assert set(partial["kafka"].values()) == {None}
    assert set(partial["socket"].values()) == {None}


def test_write_saves_the_json_and_points_latest_at_the_newest_run(tmp_path: Path) -> None:
    document = _build(_results())
    older, newer = tmp_path / "20260101T000000Z", tmp_path / "20260102T000000Z"

    summary.write(document, older)
    summary.write(document, newer)

    latest = tmp_path / "latest"
    assert latest.is_symlink() and latest.resolve() == newer.resolve()
    assert json.loads((latest / "summary.json").read_text()) == json.loads(
        json.dumps(document, default=str)
    )
