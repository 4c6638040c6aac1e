"""A benchmark's result: its table, the samples behind it, and how it is printed and saved.

Results go to bench-results/<UTC stamp>/: `<benchmark>-<backing>.json` (the rows, the samples'
summaries, the machine) and `<benchmark>-<backing>.png` (the latency distributions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import percentile


@dataclass
class Result:
    benchmark: str
    backing: str
    # One dict per table row, the same keys in each.
    rows: list[dict[str, Any]]
    # Latency samples in milliseconds by series name: plotted, and summarised in the JSON.
    samples: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return f"{self.benchmark}-{self.backing}"


def print_table(result: Result) -> None:
    print(f"\n== {result.benchmark} ({result.backing}) ==")
    print(format_table(result.rows))
    for note in result.notes:
        print(f"  note: {note}")


def format_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "  (no rows)"
    columns = list(rows[0])
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)]
    lines = [
        "  " + "  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))
    ]
    lines.append("  " + "  ".join("-" * width for width in widths))
    lines += [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def save(result: Result, directory: Path, machine: dict[str, Any]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": result.benchmark,
        "backing": result.backing,
        "machine": machine,
        "rows": result.rows,
        "notes": result.notes,
        "details": result.details,
        "distributions": {
            name: _distribution(values) for name, values in result.samples.items() if values
        },
    }
    json_path = directory / f"{result.stem}.json"
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    written = [json_path]
    plot = _plot(result, directory / f"{result.stem}.png")
    if plot:
        written.append(plot)
    return written


def _distribution(values: list[float]) -> dict[str, Any]:
    """Enough of the samples to redraw the distribution: every percentile from 0 to 100."""
    return {
        "count": len(values),
        "percentiles_ms": {str(p): round(percentile(values, p), 3) for p in range(101)},
    }


def _plot(result: Result, path: Path) -> Path | None:
    series = {name: values for name, values in result.samples.items() if values}
    if not series:
        return None
    try:
        import matplotlib
    except ImportError:
        print("  (no plot: install the bench extra, `pip install -e .[bench]`)")
        return None
    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    figure, (histogram, cumulative) = pyplot.subplots(1, 2, figsize=(12, 4.5))
    for name, values in series.items():
        ordered = sorted(values)
        histogram.hist(ordered, bins=50, alpha=0.5, label=name)
        cumulative.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=name)
    histogram.set_xlabel("ms")
    histogram.set_ylabel("samples")
    cumulative.set_xlabel("ms")
    cumulative.set_ylabel("fraction at or below")
    cumulative.grid(True, alpha=0.3)
    for axes in (histogram, cumulative):
        axes.legend(fontsize="small")
    figure.suptitle(f"{result.benchmark} ({result.backing})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"
    return str(value)
