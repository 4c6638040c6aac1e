"""The sender keys of every process a test starts (tests/conftest.py puts them in the
environment), and the one way a test signs what it posts straight to a door, as the sender that
door accepts would (adapters/sender_identity.py): the router delivering to a function, the API
sending a command to create-task's /commands, the outbox relay publishing to the router.

Whoever starts a function or a router names it once with `known_as(base_url, service)`; then
`headers_for(url)` signs for that door.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from taskflow.adapters import sender_identity

KEYS = {
    "TASKFLOW_DELIVERY_KEY": "test-delivery-key-of-the-router-0123456789",
    "TASKFLOW_COMMAND_KEY": "test-command-key-of-the-api-0123456789abcd",
    "TASKFLOW_PUBLISH_KEY": "test-publish-key-of-the-outbox-relay-01234",
}
NAMESPACE = "taskflow"
ROUTER = "router"  # the name a router is known as: its paths are /{namespace}/{broker}

as_router = sender_identity.Signer(sender_identity.ROUTER, KEYS["TASKFLOW_DELIVERY_KEY"])
as_api = sender_identity.Signer(sender_identity.API, KEYS["TASKFLOW_COMMAND_KEY"])
as_outbox_relay = sender_identity.Signer(sender_identity.OUTBOX_RELAY, KEYS["TASKFLOW_PUBLISH_KEY"])
_services: dict[str, str] = {}


def known_as(base_url: str, service: str) -> str:
    """Remember that `base_url` serves `service` (a Knative Service name such as create-task,
    or ROUTER); returns `base_url`."""
    _services[_base(base_url)] = service.replace("_", "-")
    return base_url


def headers_for(url: str) -> dict[str, str]:
    """The Authorization header the door at `url` accepts."""
    service = _services.get(_base(url))
    if service is None:
        raise KeyError(f"no service is known at {url}: start it through a test helper")
    path = urlsplit(url).path
    if service == ROUTER:
        if path == "/dead-letter":
            return as_router.headers(sender_identity.service_audience(NAMESPACE, "dead-letter"))
        namespace, _, broker = path.strip("/").partition("/")
        return as_outbox_relay.headers(sender_identity.broker_audience(namespace, broker))
    if path.rstrip("/").endswith("/commands"):
        return as_api.headers(sender_identity.service_audience(NAMESPACE, service))
    return as_router.headers(sender_identity.service_audience(NAMESPACE, service))


def _base(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
