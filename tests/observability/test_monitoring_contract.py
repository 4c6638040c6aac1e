"""What monitoring/ queries is what the code exports, and the catalogue in specs/observability.md
names every metric the code defines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import prometheus_client
import pytest
import yaml
from taskflow import metrics

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING = REPO_ROOT / "monitoring"
CATALOGUE = (REPO_ROOT / "specs" / "observability.md").read_text()


def exported_names() -> set[str]:
    """Every series name the code's metrics produce (counters' _total, histograms' _bucket...)."""
    return {
        sample_name
        for metric in vars(metrics).values()
        if isinstance(metric, prometheus_client.metrics.MetricWrapperBase)
        for family in metric.describe()
        for sample_name in _series(family.name, family.type)
    }


def _series(name: str, kind: str) -> list[str]:
    if kind == "counter":
        return [f"{name}_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_count", f"{name}_sum"]
    return [name]


def queries() -> list[str]:
    rules = yaml.safe_load((MONITORING / "prometheus" / "alerts.yaml").read_text())
    dashboard = json.loads((MONITORING / "grafana" / "taskflow-dashboard.json").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]] + [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]


@pytest.mark.parametrize("query", queries())
def test_every_taskflow_metric_monitoring_queries_is_exported(query: str) -> None:
    queried = set(re.findall(r"\btaskflow_[a-z_]+", query))
    assert queried <= exported_names(), f"not exported by taskflow.metrics: {queried}"


def test_the_queries_cover_the_contract() -> None:
    queried = {name for query in queries() for name in re.findall(r"\btaskflow_[a-z_]+", query)}
    for required in (
        "taskflow_http_requests_total",
        "taskflow_event_handling_seconds_bucket",
        "taskflow_event_failures_total",
        "taskflow_dead_letters_total",
        "taskflow_reminder_lateness_seconds_bucket",
    ):
        assert required in queried


def test_every_exported_metric_is_catalogued() -> None:
    bases = {re.sub(r"_(bucket|count|sum)$", "", name) for name in exported_names()}
    missing = {name for name in bases if f"`{name}`" not in CATALOGUE}
    assert not missing, f"metrics missing from specs/observability.md: {missing}"
