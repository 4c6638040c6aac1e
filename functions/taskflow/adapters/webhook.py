"""POST a CloudEvent to a user's webhook (binary mode: the body is the event's JSON data, the
ce-* headers carry its id and type so the receiver can drop duplicates)."""

from __future__ import annotations

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0


class WebhookFailed(Exception):
    """The webhook did not take the event; the sender should retry later."""


def post_event(url: str, event: CloudEvent) -> None:
    headers, body = to_binary(event)
    try:
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            allow_redirects=False,
        )
    except requests.RequestException as error:
        # The URL is the user's: name the failure, not the address, in logs and answers.
        raise WebhookFailed(f"webhook unreachable: {type(error).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise WebhookFailed(f"webhook answered {response.status_code}")
