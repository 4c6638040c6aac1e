"""Publish CloudEvents to the broker ingress over HTTP, in binary content mode.

`{broker_url}/{topic}` is the Knative broker ingress path /{namespace}/{broker}: BROKER_URL ends
with the namespace and each Kafka topic is a Broker of the same name (specs/eventing.md).
"""

from __future__ import annotations

import urllib3
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from taskflow import tracing
from taskflow.adapters import http_pool, sender_identity

DEFAULT_TIMEOUT_SECONDS = 5.0


class PublishError(RuntimeError):
    pass


class HttpPublisher:
    def __init__(
        self,
        broker_url: str,
        credential: sender_identity.Credential,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.broker_url = broker_url.rstrip("/")
        # The ingress accepts only the outbox relay: each broker is its own audience.
        self._namespace = self.broker_url.rsplit("/", 1)[-1]
        self._credential = credential
        self.timeout = timeout
        self._http = http_pool.connection_pool()

    def publish(self, topic: str, event: CloudEvent) -> None:
        """Deliver `event` to the broker of `topic`; raise PublishError unless it answers 2xx."""
        url = f"{self.broker_url}/{topic}"
        headers, body = to_binary(event)
        headers |= tracing.transport_headers(event)
        headers |= self._credential.headers(sender_identity.broker_audience(self._namespace, topic))
        try:
            response = self._http.request(
                "POST", url, body=body, headers=headers, timeout=self.timeout
            )
        except urllib3.exceptions.HTTPError as error:
            raise PublishError(f"broker {url} unreachable: {type(error).__name__}") from error
        if not 200 <= response.status < 300:
            raise PublishError(
                f"broker {url} refused event {event['id']}: {response.status} "
                f"{response.data[:200].decode(errors='replace')}"
            )
