"""What every benchmark is given: the backing, the size of the run, and a scratch folder."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import backing as backings
from bench.product import Product, running_product


@dataclass(frozen=True)
class Context:
    backing: str  # embedded | kafka | postgres
    quick: bool  # a smaller, faster run: a smoke check of the benchmark, not a figure
    workdir: Path  # scratch space of one benchmark, deleted afterwards
    results_dir: Path  # where results and side files (EXPLAIN output) go
    postgres_admin_url: str | None
    kafka_bootstrap: str | None = None

    def scaled(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        with backings.database(self.backing, self.workdir, self.postgres_admin_url) as url:
            yield url

    @contextlib.contextmanager
    def product(self, extra_env: dict[str, str] | None = None) -> Iterator[Product]:
        """The whole product on the backing's database and router, for this benchmark only."""
        router_env, arguments = backings.router(self.backing, self.kafka_bootstrap)
        with (
            self.database() as url,
            running_product(
                self.workdir, url, {**router_env, **(extra_env or {})}, arguments
            ) as product,
        ):
            yield product
