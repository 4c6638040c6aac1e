"""Read Knative Broker and Trigger manifests into plain values the router can act on.

Only the fields the router honours are read; anything it cannot honour faithfully (an unknown
filter dialect such as cesql, a subscriber without a Service ref or absolute uri) is refused at
load time with the manifest's name, so a local run never silently routes differently from a
cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml

from taskflow_dev.router.filters import EventFilter, compile_filters, compile_legacy_filter

ORDER_ANNOTATION = "kafka.eventing.knative.dev/delivery.order"
DEFAULT_TIMEOUT_SECONDS = 600.0  # the Kafka broker dispatcher's default egress timeout

_ISO_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class ManifestError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """Seconds in an ISO-8601 duration such as PT0.5S or PT1M (the form Knative delivery uses)."""
    match = _ISO_DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ManifestError(f"not an ISO-8601 duration: {text!r}")
    parts = {name: float(value) for name, value in match.groupdict(default="0").items()}
    return parts["days"] * 86400 + parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"]


@dataclass(frozen=True)
class Destination:
    """A Knative Destination: a Service ref (resolved to a local address) plus an optional
    relative uri, or an absolute uri; `audience` is what a delivery's token is issued for
    (Knative's Destination.audience; default: the Service's own audience)."""

    service: str | None
    uri: str | None
    audience: str | None = None

    def url(self, addresses: Mapping[str, str]) -> str:
        if self.service is None:
            assert self.uri is not None
            return self.uri
        try:
            base = addresses[self.service]
        except KeyError:
            raise ManifestError(f"no address for the Service {self.service!r}") from None
        if not self.uri:
            return base
        return urljoin(base.rstrip("/") + "/", self.uri.lstrip("/"))

    @classmethod
    def parse(cls, spec: Mapping[str, Any], where: str) -> Destination:
        ref = spec.get("ref")
        uri = spec.get("uri")
        audience = spec.get("audience")
        if ref is not None:
            if ref.get("kind") != "Service" or not ref.get("name"):
                raise ManifestError(f"{where}: ref must name a Service")
            return cls(service=ref["name"], uri=uri, audience=audience)
        if isinstance(uri, str) and uri.startswith(("http://", "https://")):
            return cls(service=None, uri=uri, audience=audience)
        raise ManifestError(f"{where}: needs a Service ref or an absolute uri")


@dataclass(frozen=True)
class DeliverySpec:
    retry: int = 0
    backoff_policy: str = "exponential"
    backoff_delay: float = 0.0
    dead_letter_sink: Destination | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry number `retry_number` (1-based), as the Kafka broker
        dispatcher computes it: delay * n (linear) or delay * 2^n (exponential)."""
        if self.backoff_policy == "linear":
            return self.backoff_delay * retry_number
        return self.backoff_delay * 2**retry_number

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | None, where: str) -> DeliverySpec | None:
        if not spec:
            return None
        policy = spec.get("backoffPolicy", "exponential")
        if policy not in ("linear", "exponential"):
            raise ManifestError(f"{where}: backoffPolicy must be linear or exponential")
        sink = spec.get("deadLetterSink")
        return cls(
            retry=int(spec.get("retry", 0)),
            backoff_policy=policy,
            backoff_delay=parse_duration(spec["backoffDelay"]) if "backoffDelay" in spec else 0.0,
            dead_letter_sink=Destination.parse(sink, f"{where} deadLetterSink") if sink else None,
            timeout=parse_duration(spec["timeout"])
            if "timeout" in spec
            else DEFAULT_TIMEOUT_SECONDS,
        )


@dataclass(frozen=True)
class Broker:
    name: str
    delivery: DeliverySpec


@dataclass(frozen=True)
class Trigger:
    name: str
    broker: str
    matches: EventFilter
    subscriber: Destination
    delivery: DeliverySpec
    ordered: bool


@dataclass(frozen=True)
class Eventing:
    brokers: dict[str, Broker]
    triggers: tuple[Trigger, ...] = field(default=())

    def triggers_of(self, broker: str) -> tuple[Trigger, ...]:
        return tuple(trigger for trigger in self.triggers if trigger.broker == broker)


def _documents(eventing_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted([*eventing_dir.glob("*.yaml"), *eventing_dir.glob("*.yml")]):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict):
                yield path, document


def load(eventing_dir: Path) -> Eventing:
    """Every Broker and Trigger (eventing.knative.dev/v1) under `eventing_dir`; other kinds are
    ignored, as they belong to the cluster only."""
    broker_specs: dict[str, dict[str, Any]] = {}
    trigger_specs: list[tuple[str, dict[str, Any]]] = []
    for path, document in _documents(eventing_dir):
        if not str(document.get("apiVersion", "")).startswith("eventing.knative.dev/"):
            continue
        name = document.get("metadata", {}).get("name", "")
        where = f"{path.name}: {document.get('kind')} {name!r}"
        if document.get("kind") == "Broker":
            broker_specs[name] = document
        elif document.get("kind") == "Trigger":
            trigger_specs.append((where, document))
    brokers = {
        name: Broker(
            name,
            DeliverySpec.parse(spec.get("spec", {}).get("delivery"), name) or DeliverySpec(),
        )
        for name, spec in broker_specs.items()
    }
    return Eventing(brokers, tuple(_trigger(where, doc, brokers) for where, doc in trigger_specs))


def _trigger(where: str, document: dict[str, Any], brokers: Mapping[str, Broker]) -> Trigger:
    spec = document.get("spec", {})
    broker = spec.get("broker")
    if broker not in brokers:
        raise ManifestError(f"{where}: unknown broker {broker!r}")
    if "subscriber" not in spec:
        raise ManifestError(f"{where}: no subscriber")
    # As in Knative, the newer `filters` win over the legacy `filter` when both are given.
    if spec.get("filters"):
        matches = compile_filters(spec["filters"], where)
    else:
        matches = compile_legacy_filter(spec.get("filter", {}).get("attributes", {}))
    annotations = document.get("metadata", {}).get("annotations") or {}
    return Trigger(
        name=document["metadata"]["name"],
        broker=broker,
        matches=matches,
        subscriber=Destination.parse(spec["subscriber"], f"{where} subscriber"),
        delivery=DeliverySpec.parse(spec.get("delivery"), where) or brokers[broker].delivery,
        ordered=annotations.get(ORDER_ANNOTATION, "unordered") == "ordered",
    )
