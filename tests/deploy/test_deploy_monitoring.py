"""Monitoring configuration: alert rules and dashboard queries are valid PromQL over the metrics
TaskFlow documents, the required alerts exist, and the scrape configuration finds the ports the
chart uses."""

from __future__ import annotations

import json
import re
from typing import Any

import promql_parser
import pytest
import yaml
from deploy_toolchain import REPO_ROOT

MONITORING = REPO_ROOT / "monitoring"
ALERTS = yaml.safe_load((MONITORING / "prometheus" / "alerts.yaml").read_text())
RULES: list[dict[str, Any]] = [rule for group in ALERTS["groups"] for rule in group["rules"]]
DASHBOARD = json.loads((MONITORING / "grafana" / "taskflow-dashboard.json").read_text())
SCRAPE = yaml.safe_load((MONITORING / "prometheus" / "scrape-config.yaml").read_text())
VALUES = yaml.safe_load((REPO_ROOT / "deploy" / "helm" / "taskflow" / "values.yaml").read_text())
SPEC = (REPO_ROOT / "specs" / "observability.md").read_text()
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "count", "absent", "or"}


def metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression (identifiers not followed by '(' nor inside {})."""
    without_matchers = re.sub(r"\{[^}]*\}|\[[^]]*\]|\"[^\"]*\"", "", expression)
    words = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", without_matchers))
    labels = set(re.findall(r"by \(([^)]*)\)", without_matchers))
    label_names = {name.strip() for group in labels for name in group.split(",")}
    return {word for word in words if word not in PROMQL_WORDS | label_names | {"le"}}


def documented(metric: str) -> bool:
    """taskflow_* metrics must be in the catalogue of specs/observability.md."""
    base = re.sub(r"_(bucket|count|sum)$", "", metric)
    return not metric.startswith("taskflow_") or f"`{base}`" in SPEC or f"`{metric}`" in SPEC


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


def test_the_three_required_alerts_exist() -> None:
    expressions = " ".join(rule["expr"] for rule in RULES)
    assert "taskflow_dead_letters_total" in expressions
    assert "taskflow_reminder_lateness_seconds_bucket" in expressions
    assert 'status=~"5.."' in expressions


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule["alert"])
def test_alert_rule_is_well_formed(rule: dict[str, Any]) -> None:
    promql_parser.parse(rule["expr"])
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"]
    assert re.fullmatch(r"\d+[smh]", rule["for"])
    undocumented = {name for name in metric_names(rule["expr"]) if not documented(name)}
    assert not undocumented, f"metrics missing from specs/observability.md: {undocumented}"


@pytest.mark.parametrize("expression", dashboard_expressions())
def test_dashboard_query_is_valid_promql(expression: str) -> None:
    promql_parser.parse(expression)
    undocumented = {name for name in metric_names(expression) if not documented(name)}
    assert not undocumented, f"metrics missing from specs/observability.md: {undocumented}"


def test_dashboard_is_importable() -> None:
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert DASHBOARD["uid"] and DASHBOARD["title"]
    assert {"datasource"} <= {variable["name"] for variable in DASHBOARD["templating"]["list"]}


def relabel(rules: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus's relabelling of one discovered target (actions keep and replace, the ones the
    scrape config uses): the target's labels after the rules, None when it is dropped."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(n, "") for n in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if rule.get("action", "replace") == "keep":
            if match is None:
                return None
        elif match is not None:
            replacement = re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1"))
            labels[rule["target_label"]] = match.expand(replacement)
    return labels


def test_the_services_are_scraped_on_the_metrics_port_their_pods_announce() -> None:
    """A pod of the chart, as Kubernetes service discovery shows it (one target per declared
    port), is scraped once, at the address of its app container and the port of its
    prometheus.io/port annotation: the metrics-only port, never the public 8080."""
    jobs = {job["job_name"]: job for job in SCRAPE["scrape_configs"]}
    port = str(VALUES["metrics"]["port"])
    pod = {
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_annotation_prometheus_io_port": port,
        "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
        "__meta_kubernetes_pod_label_serving_knative_dev_service": "create-task",
    }
    targets = [
        pod
        | {"__address__": f"10.1.2.3:{number}", "__meta_kubernetes_pod_container_name": name}
        | {"__meta_kubernetes_pod_container_port_number": str(number)}
        for name, number in [("create-task", 8080), ("queue-proxy", 8012), ("queue-proxy", 9091)]
    ]

    kept = [relabel(jobs["taskflow"]["relabel_configs"], target) for target in targets]

    scraped = [labels for labels in kept if labels is not None]
    assert [(t["__address__"], t["__metrics_path__"]) for t in scraped] == [
        (f"10.1.2.3:{port}", "/metrics")
    ]
    assert scraped[0]["service"] == "create-task"


def test_scrape_config_follows_the_chart_ports() -> None:
    jobs = {job["job_name"]: job for job in SCRAPE["scrape_configs"]}
    assert set(jobs) == {"taskflow", "dapr", "queue-proxy"}
    taskflow_rules = json.dumps(jobs["taskflow"]["relabel_configs"])
    assert "(.+);8080" in taskflow_rules
    dapr_rules = json.dumps(jobs["dapr"]["relabel_configs"])
    assert "dapr_io_metrics_port" in dapr_rules, "the sidecar's port must come from its annotation"
    assert int(VALUES["dapr"]["metricsPort"]) not in {8012, 8022, 9090, 9091}
    for job in jobs.values():
        for rule in job["relabel_configs"]:
            re.compile(rule.get("regex", "(.*)"))
