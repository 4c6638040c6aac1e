"""Deliver one event to one Trigger's subscriber the way the Knative Kafka broker dispatcher does.

Upstream behaviour copied here (knative-extensions/eventing-kafka-broker, data-plane/dispatcher,
impl/http/WebClientCloudEventSender.java, impl/BaseResponseHandler.java and
impl/RecordDispatcherImpl.java):
- the event is POSTed in binary content mode with `Prefer: reply`;
- a network error or a retryable status (5xx, 404, 408, 409, 429) is retried `retry` times, waiting
  delay*n (linear) or delay*2^n (exponential) before retry n; any other non-2xx is not retried;
- a 2xx is then read as a CloudEvent: a CloudEvent is a reply, an empty body an acknowledgement,
  and a non-empty body that is not a CloudEvent a failed delivery ("unknown encoding and non empty
  response") that goes to the dead-letter sink without further retries;
- a failed delivery goes to the dead-letter sink with the extensions knativeerrordest,
  knativeerrorcode and knativeerrordata (the response body, base64, at most 1024 bytes).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import urllib3
from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import CloudEvent, from_http
from taskflow import metrics
from taskflow.adapters import http_pool, sender_identity

from taskflow_dev.router.eventlog import DeliveryInterrupted
from taskflow_dev.router.manifests import DeliverySpec, Destination, Trigger

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({404, 408, 409, 429})
ERROR_DATA_MAX_BYTES = 1024


@dataclass(frozen=True)
class Attempt:
    """What one POST gave: a status and body, or `error` when no HTTP answer came back."""

    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in RETRYABLE_STATUS


class Dispatcher:
    def __init__(
        self,
        addresses: Mapping[str, str],
        stopping: threading.Event,
        *,
        signer: sender_identity.Signer,
        namespace: str,
    ) -> None:
        """Every delivery carries a token from `signer` for its subscriber's audience, as the
        Kafka broker's dispatcher carries an OIDC token (specs/eventing.md)."""
        self._addresses = dict(addresses)
        self._stopping = stopping
        self._signer = signer
        self._namespace = namespace
        self._http = http_pool.connection_pool()

    def _audience(self, destination: Destination) -> str:
        if destination.audience:
            return destination.audience
        return sender_identity.service_audience(self._namespace, destination.service or "")

    def dispatch(self, trigger: Trigger, event: CloudEvent) -> CloudEvent | None:
        """Deliver `event` to the Trigger's subscriber; return the reply event, if one came.
        Raise DeliveryInterrupted when the router stops before the delivery is settled."""
        url = trigger.subscriber.url(self._addresses)
        audience = self._audience(trigger.subscriber)
        attempt = self._send_with_retries(url, audience, event, trigger.delivery)
        if not attempt.succeeded:
            self._dead_letter(trigger, event, url, attempt)
            return None
        try:
            reply = from_http(dict(attempt.headers), attempt.body)
        except (CloudEventError, ValueError):
            if attempt.body:
                log.warning(
                    "trigger %s: %s answered %s with a body that is not a CloudEvent",
                    trigger.name,
                    url,
                    attempt.status,
                )
                self._dead_letter(trigger, event, url, attempt)
                return None
            reply = None
        metrics.ROUTER_DELIVERIES.labels(trigger.name, "delivered").inc()
        return reply

    def _send_with_retries(
        self, url: str, audience: str, event: CloudEvent, delivery: DeliverySpec
    ) -> Attempt:
        retries = 0
        while True:
            attempt = self._post(url, audience, event, delivery.timeout)
            if attempt.succeeded or not attempt.retryable or retries >= delivery.retry:
                return attempt
            retries += 1
            metrics.ROUTER_RETRIES.labels(url).inc()
            log.info(
                "delivery of %s to %s failed (%s); retry %d/%d",
                event["id"],
                url,
                attempt.error or attempt.status,
                retries,
                delivery.retry,
            )
            if self._stopping.wait(delivery.backoff(retries)):
                raise DeliveryInterrupted(event["id"])

    def _post(self, url: str, audience: str, event: CloudEvent, timeout: float) -> Attempt:
        headers, body = to_binary(event)
        headers |= {"Prefer": "reply", **self._signer.headers(audience)}
        try:
            response = self._http.request("POST", url, body=body, headers=headers, timeout=timeout)
        except urllib3.exceptions.HTTPError as error:
            return Attempt(status=None, headers={}, body=b"", error=type(error).__name__)
        return Attempt(response.status, dict(response.headers), response.data)

    def _dead_letter(self, trigger: Trigger, event: CloudEvent, url: str, attempt: Attempt) -> None:
        metrics.ROUTER_DELIVERIES.labels(trigger.name, "dead_lettered").inc()
        sink: Destination | None = trigger.delivery.dead_letter_sink
        if sink is None:
            log.error("trigger %s: dropped %s, no dead-letter sink", trigger.name, event["id"])
            return
        extensions = {"knativeerrordest": url}
        if attempt.status is not None:
            extensions["knativeerrorcode"] = str(attempt.status)
        if attempt.body:
            data = base64.b64encode(attempt.body[:ERROR_DATA_MAX_BYTES]).decode("ascii")
            extensions["knativeerrordata"] = data
        letter = CloudEvent({**event.get_attributes(), **extensions}, event.data)
        sink_url = sink.url(self._addresses)
        result = self._send_with_retries(sink_url, self._audience(sink), letter, trigger.delivery)
        if not result.succeeded:
            log.error(
                "trigger %s: dead-letter sink %s refused %s (%s); event dropped",
                trigger.name,
                sink_url,
                event["id"],
                result.error or result.status,
            )
