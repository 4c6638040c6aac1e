"""Fixtures of the reliability harness: a database of each kind for a whole stack."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "taskflow.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_databases) -> Iterator[str]:  # type: ignore[no-untyped-def]
    url = postgres_databases.create(migrated=True)
    yield url
    postgres_databases.drop(url)
