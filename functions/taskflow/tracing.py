"""One trace across functions: W3C trace context carried by every CloudEvent, with OpenTelemetry.

Each request a service handles runs in a server span (entrypoints/observability.py). It continues
the trace of the CloudEvent it receives (the `traceparent` extension of the CloudEvents
distributed-tracing extension, header `ce-traceparent`), else the HTTP `traceparent` header (Dapr,
Knative), else starts one. Every CloudEvent built while a span is current carries that span's
context as its `traceparent` extension (catalogue.new_event), so a command's trace goes on in the
events create-task writes to the outbox, through the broker, into every consumer and its replies.

Spans are exported over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set (config.py);
otherwise they are recorded nowhere and only their ids travel. The tracer provider is built on
the first span, in the process that serves requests (never at import: gunicorn forks after it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from cloudevents.http import CloudEvent
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()
_setup_lock = threading.Lock()
_tracer: trace.Tracer | None = None


def tracer(service: str) -> trace.Tracer:
    """The process's tracer; the first call installs the provider, named after `service`."""
    global _tracer
    if _tracer is None:
        with _setup_lock:
            if _tracer is None:
                _tracer = _install_provider(service).get_tracer("taskflow")
    return _tracer


def _install_provider(service: str) -> TracerProvider:
    from taskflow.config import load_settings  # late: settings are read at start-up, not import

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    endpoint = load_settings().otlp_endpoint
    if endpoint:
        # Late: the exporter pulls in protobuf (~250 ms, ~4 MB), paid only when exporting.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


@contextmanager
def server_span(
    service: str, name: str, headers: Mapping[str, str], attributes: Mapping[str, str]
) -> Iterator[trace.Span]:
    """A current span for one incoming request, continuing the trace it carries."""
    parent = _PROPAGATOR.extract(_incoming_carrier(headers))
    with tracer(service).start_as_current_span(
        name, context=parent, kind=trace.SpanKind.SERVER, attributes=dict(attributes)
    ) as span:
        yield span


def _incoming_carrier(headers: Mapping[str, str]) -> dict[str, str]:
    """The event's own context first: it names the write that caused the event, and it survives
    every hop, where a transport header may be a platform's fresh trace."""
    for name in (f"ce-{TRACEPARENT}", TRACEPARENT):
        value = headers.get(name)
        if value:
            return {TRACEPARENT: value}
    return {}


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span; None outside any span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def current_trace_id() -> str:
    """The current trace id as 32 hex digits, as logs and tracing back ends show it; '' if none."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""


def transport_headers(event: CloudEvent) -> dict[str, str]:
    """HTTP headers that let the hop (Dapr, a Knative broker) continue the event's trace."""
    traceparent = event.get(TRACEPARENT)
    return {TRACEPARENT: str(traceparent)} if traceparent else {}
