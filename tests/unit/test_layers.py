"""The product package never depends on the development plumbing (dev/taskflow_dev: the local
router, the local runner, the scripted model), and no service image ships it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_product_never_imports_the_development_package() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "functions").rglob("*.py")
        if re.search(r"^\s*(from|import) taskflow_dev\b", path.read_text(), re.MULTILINE)
    ]
    assert importers == []


def test_only_the_local_routers_image_copies_the_development_package() -> None:
    stages: dict[str, str] = {}
    stage = ""
    for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines():
        if match := re.match(r"FROM \S+ AS (\S+)", line):
            stage = match.group(1)
        stages[stage] = stages.get(stage, "") + line + "\n"
    copying = sorted(name for name, text in stages.items() if re.search(r"COPY\s+dev/", text))
    assert copying == ["router"]
