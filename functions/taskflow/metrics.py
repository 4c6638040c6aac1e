"""The one home of TaskFlow's Prometheus metrics: the contract monitoring/ (alert rules, Grafana
dashboard) queries, catalogued in specs/observability.md. Each process serves the ones it
touched at GET /metrics (entrypoints/observability.py)."""

from __future__ import annotations

import prometheus_client

HTTP_REQUESTS = prometheus_client.Counter(
    "taskflow_http_requests",
    "HTTP requests answered, by service, method, route and status",
    ["service", "method", "route", "status"],
)
EVENT_HANDLING = prometheus_client.Histogram(
    "taskflow_event_handling_seconds",
    "Time to handle one CloudEvent, by service, event type and outcome (ok, rejected, failed)",
    ["service", "type", "outcome"],
)
EVENT_FAILURES = prometheus_client.Counter(
    "taskflow_event_failures",
    "CloudEvents whose handling failed with a server error (the broker retries them)",
    ["service", "type"],
)
DEAD_LETTERS = prometheus_client.Counter(
    "taskflow_dead_letters",
    "Events that exhausted their delivery retries, by type and failed destination",
    ["type", "destination"],
)
REMINDER_LATENESS = prometheus_client.Histogram(
    "taskflow_reminder_lateness_seconds",
    "Delay between a reminder's time and its firing",
    buckets=(1, 5, 15, 30, 60, 120, 180, 300, 600, 1800, 3600),
)
# The local router's dispatcher (a Knative Kafka broker exports its own in a cluster).
ROUTER_DELIVERIES = prometheus_client.Counter(
    "taskflow_router_deliveries",
    "Deliveries settled by the local router, by trigger and outcome (delivered, dead_lettered)",
    ["trigger", "outcome"],
)
ROUTER_RETRIES = prometheus_client.Counter(
    "taskflow_router_retries",
    "Delivery attempts the local router repeated after a retryable failure, by destination",
    ["destination"],
)
