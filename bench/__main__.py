"""`python -m bench [name ...] [--backing embedded,kafka] [--quick]`: run the benchmarks,
print their tables and save JSON and PNG plots under bench-results/<UTC stamp>/."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import backing as backings
from bench import machine, report, summary
from bench.context import Context

# Each name is a module of this package with `run(context) -> Result`.
BENCHMARKS = (
    "cost",
    "pipeline",
    "throughput",
    "reminders",
    "cold_start",
    "queries",
    "chat",
    "socket",
    "command_path",
)
# Cold start runs each function alone on the embedded database, and socket one broadcast-update
# with no database at all: the backing does not change them. The command path compares two
# routes to the same create-task on the same database: the backing is the same for both.
BACKING_INDEPENDENT = {"cold_start", "socket", "command_path"}
# The queries touch only the database: on kafka (PostgreSQL + Kafka) they measure PostgreSQL,
# so they run once, as `postgres`, for both.
DATABASE_ONLY = {"queries"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument(
        "--backing",
        default=",".join(backings.DEFAULT),
        help=f"comma-separated, of {', '.join(backings.BACKINGS)} (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    parser.add_argument("--note", default="", help="recorded with the machine, e.g. 'shared'")
    parser.add_argument("--out", type=Path, default=machine.REPO_ROOT / "bench-results")
    arguments = parser.parse_args(argv)

    names = arguments.names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}: use {', '.join(BENCHMARKS)}")
    selected_backings = [b.strip() for b in arguments.backing.split(",") if b.strip()]
    try:
        for backing in selected_backings:
            backings.check_available(backing)
    except backings.BackingUnavailable as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2

    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results_dir = arguments.out / stamp
    description = machine.describe(arguments.note)
    print(f"machine: {description}")
    failures = 0
    results: list[report.Result] = []
    with contextlib.ExitStack() as stack:
        on_postgres = any(backing in backings.ON_POSTGRES for backing in selected_backings)
        admin_url = stack.enter_context(backings.postgres_cluster()) if on_postgres else None
        bootstrap = None
        if "kafka" in selected_backings:
            try:
                bootstrap = stack.enter_context(backings.kafka_broker())
            except backings.BackingUnavailable as error:
                print(f"bench: {error}", file=sys.stderr)
                return 2
        for name in names:
            for backing in _runs(name, selected_backings):
                result = _run_one(
                    name, backing, arguments.quick, results_dir, admin_url, bootstrap, description
                )
                failures += result is None
                results += [result] if result else []
    document = summary.build(
        results,
        description,
        load_average_end=machine.load_average(),
        duration_s=time.monotonic() - started,
        quick=arguments.quick,
    )
    print(f"\nsummary: {summary.write(document, results_dir)} ({document['duration_s']:g} s)")
    print(f"results: {results_dir}")
    return 1 if failures else 0


def _runs(name: str, selected_backings: list[str]) -> list[str]:
    if name in BACKING_INDEPENDENT:
        return selected_backings[:1]
    if name not in DATABASE_ONLY:
        return selected_backings
    runs: list[str] = []
    for backing in selected_backings:
        measured = "postgres" if backing == "kafka" else backing
        if backing == "kafka":
            print(
                f"-- {name} (kafka): only the database is involved; measured as {name} (postgres)"
            )
        if measured not in runs:
            runs.append(measured)
    return runs


def _run_one(
    name: str,
    backing: str,
    quick: bool,
    results_dir: Path,
    admin_url: str | None,
    kafka_bootstrap: str | None,
    description: dict[str, object],
) -> report.Result | None:
    module = importlib.import_module(f"bench.{name}")
    print(f"\n-- {name} ({backing}) running...", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"taskflow-bench-{name}-") as scratch:
        context = Context(backing, quick, Path(scratch), results_dir, admin_url, kafka_bootstrap)
        try:
            result = module.run(context)
        except Exception as error:  # one broken benchmark must not hide the others' figures
            print(f"-- {name} ({backing}) FAILED: {type(error).__name__}: {error}", flush=True)
            return None
        finally:
            _keep_product_log(context, f"{name}-{backing}")
    result.details["load_average_after"] = machine.load_average()
    result.details["quick"] = quick
    report.print_table(result)
    for path in report.save(result, results_dir, description):
        print(f"  saved {path}")
    return result


def _keep_product_log(context: Context, stem: str) -> None:
    """The product's output outlives the scratch folder: it explains refusals and failures."""
    log = context.workdir / "product.log"
    if log.exists():
        results_dir = context.results_dir
        results_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, results_dir / f"{stem}-product.log")


if __name__ == "__main__":
    sys.exit(main())
