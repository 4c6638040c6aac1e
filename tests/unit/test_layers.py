"""The product package never depends on the development plumbing (dev/taskflow_dev: the local
router, the local runner, the scripted model), and no service image ships it."""

from __future__ import annotations

import ast
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


# What the local router may take from the product: the one home of each fact it shares with the
# functions, and nothing that is the product itself (specs/architecture.md, "What the router may
# import"). It reads eventing/*.yaml for its Brokers and Triggers; it answers as a broker does.
ROUTER_MAY_IMPORT = {
    "taskflow.config",  # settings, ports and function names: one home for every process
    "taskflow.adapters.sender_identity",  # signs deliveries the doors check, checks the relay's
    "taskflow.metrics",  # metric names monitoring/ queries (dead letters: the sink's own too)
    "taskflow.adapters.http_pool",  # the keep-alive pool of calls between TaskFlow's services
}


def _product_imports(path: Path) -> set[str]:
    """Every product module `path` imports (`from taskflow import metrics` -> taskflow.metrics)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            # `from taskflow.config import Settings` names an attribute, not a module.
            found |= names if node.module in {"taskflow", "taskflow.adapters"} else {node.module}
    return {name for name in found if name == "taskflow" or name.startswith("taskflow.")}


def test_the_router_imports_only_shared_infrastructure_from_the_product() -> None:
    imported = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "dev" / "taskflow_dev" / "router").rglob("*.py")
        for name in _product_imports(path)
        if name not in ROUTER_MAY_IMPORT
    }
    assert imported == set()
