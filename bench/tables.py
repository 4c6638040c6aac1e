"""`python -m bench.tables [results folder]`: the saved results as markdown tables (for the
README and specs/benchmarks.md), the newest folder under bench-results/ by default."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.machine import REPO_ROOT
from bench.report import markdown_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tables", description=__doc__)
    parser.add_argument("folders", nargs="*", type=Path)
    arguments = parser.parse_args(argv)
    folders = arguments.folders or [REPO_ROOT / "bench-results" / "latest"]
    paths = (p for folder in folders for p in folder.glob("*.json") if p.name != "summary.json")
    for path in sorted(paths):
        document = json.loads(path.read_text())
        machine = document["machine"]
        print(f"### {document['benchmark']} ({document['backing']})\n")
        print(
            f"{machine['date']}, {machine['cpu_model']}, {machine['cores']} cores, "
            f"{machine['memory_gib']} GiB, Python {machine['python']}, commit "
            f"{machine['git_commit'][:8]}; load average {machine['load_average_at_start']} "
            f"at start, {document['details'].get('load_average_after')} after\n"
        )
        print(markdown_table(document["rows"]))
        for note in document["notes"]:
            print(f"\n- {note}")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
