"""The one home of TaskFlow's Prometheus metrics: the contract monitoring/ (alert rules, Grafana
dashboard) queries, catalogued in specs/observability.md. Each process serves the ones it
touched at GET /metrics on its metrics-only port (`serve_metrics`; the product's services
through entrypoints/observability.py, the local router directly)."""

from __future__ import annotations

import logging
import os
import threading

import prometheus_client

from taskflow import config

log = logging.getLogger(__name__)

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
OUTBOX_RELAYS = prometheus_client.Counter(
    "taskflow_outbox_relays",
    "Outbox relay runs finished in this process, by outcome (ok, failed: its rows stay pending"
    " for the next run)",
    ["outcome"],
)
OUTBOX_PUBLISHED = prometheus_client.Counter(
    "taskflow_outbox_published",
    "Outbox rows this process published to the broker",
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


_metrics_lock = threading.Lock()
_metrics_served_in: int | None = None  # the pid whose registry the metrics port serves


def serve_metrics(address: tuple[str, int] | None = None) -> None:
    """Serve this process's Prometheus registry at `address` (default config.metrics_address:
    nowhere when unset), once per process, on a daemon thread (prometheus_client's own server:
    any path, GET only). Metrics live in the process that counted them, so it must be the one
    that serves requests: a gunicorn worker, never its master (see observability.observed). A
    port already held is logged, not raised: metrics must never stop a service from serving."""
    global _metrics_served_in
    if _metrics_served_in == os.getpid():
        return
    address = address or config.metrics_address()
    if address is None:
        return
    with _metrics_lock:
        if _metrics_served_in == os.getpid():
            return
        _metrics_served_in = os.getpid()
    host, port = address
    try:
        prometheus_client.start_http_server(port, addr=host)
    except OSError as error:
        log.error("metrics port %s:%s unavailable, metrics not served: %s", host, port, error)
